using System.Data.Common;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Persistence;

/// <summary>The part of a write transaction both providers share: run the work, commit only on success.</summary>
internal static class Transactions
{
    public static async Task<Result<T>> CommitIfSuccessAsync<T>(
        DbConnection connection, DbTransaction transaction, Func<Tx, Task<Result<T>>> work, CancellationToken ct)
    {
        var tx = new Tx(connection, transaction);
        var result = await work(tx);
        if (result.IsSuccess)
        {
            await transaction.CommitAsync(ct);
            tx.RunCommitted();
        }
        else
        {
            await transaction.RollbackAsync(ct);
        }
        return result;
    }
}
