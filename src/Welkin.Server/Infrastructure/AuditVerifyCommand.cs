using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Data;
using Welkin.Persistence;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// <c>welkin-server audit verify --data-dir DIR</c>: checks the audit log's hash chain offline,
/// without starting the web host or changing anything (no migration runs). Exit code 0 when
/// the chain is intact, 1 when it is broken, 2 when the command or the database is unusable.
/// </summary>
public static class AuditVerifyCommand
{
    public const string Usage =
        "usage: welkin-server audit verify --data-dir DIR [--database sqlite|postgresql] [--connection-string CS]";

    public static bool Matches(string[] args) => args is ["audit", "verify", ..];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, CancellationToken ct)
    {
        string? dataDir = null;
        var database = new DatabaseOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--data-dir" when value is not null:
                    dataDir = value;
                    i++;
                    break;
                case "--database" when value is not null:
                    database.Provider = value;
                    i++;
                    break;
                case "--connection-string" when value is not null:
                    database.ConnectionString = value;
                    i++;
                    break;
                default:
                    await output.WriteLineAsync($"unexpected argument '{args[i]}'\n{Usage}");
                    return 2;
            }
        }
        var sqlite = database.Provider.Equals("sqlite", StringComparison.OrdinalIgnoreCase);
        if (sqlite && dataDir is null)
        {
            await output.WriteLineAsync($"--data-dir is required\n{Usage}");
            return 2;
        }
        dataDir = Path.GetFullPath(dataDir ?? ".");
        var file = Path.Combine(dataDir, PersistenceServiceCollectionExtensions.SqliteFileName);
        // Opening a missing SQLite file would create an empty database; refuse instead.
        if (sqlite && !File.Exists(file))
        {
            await output.WriteLineAsync($"no Welkin database at {file}");
            return 2;
        }
        var services = new ServiceCollection()
            .AddSingleton(TimeProvider.System)
            .AddSingleton<AuditLog>()
            .AddWelkinPersistence(database, dataDir);
        await using var provider = services.BuildServiceProvider();
        AuditVerification result;
        try
        {
            result = await provider.GetRequiredService<AuditLog>().VerifyAsync(provider.GetRequiredService<IDatabase>(), ct);
        }
        catch (System.Data.Common.DbException e)
        {
            await output.WriteLineAsync($"cannot read the audit log: {e.Message}");
            return 2;
        }
        if (result.Valid)
        {
            await output.WriteLineAsync($"audit log valid: {result.Entries} entries, head hash {result.HeadHash}");
            return 0;
        }
        await output.WriteLineAsync($"audit log INVALID: first invalid entry {result.FirstInvalidSeq}: {result.Problem} ({result.Entries} entries verified before it)");
        return 1;
    }
}
