using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Core.Vault;

namespace Welkin.Server.S3;

/// <summary>The S3 face's buckets: the retention vaults of the caller's own account, by name.</summary>
public sealed class VaultBuckets(VaultService vaults) : IS3Buckets
{
    public async Task<Result<IReadOnlyList<S3Bucket>>> ListAsync(Caller caller, CancellationToken ct)
    {
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Listing buckets") is { } denied)
        {
            return denied;
        }
        var buckets = new List<S3Bucket>();
        string? after = null;
        while (true)
        {
            // A provider's principal lists its own account's vaults here, as a tenant does: S3 has no account filter.
            var page = await vaults.ListAsync(caller, new VaultListQuery(AccountId: caller.AccountId, After: after), ct);
            if (!page.IsSuccess)
            {
                return page.Error!;
            }
            buckets.AddRange(page.Value.Items.Select(v => new S3Bucket(v.Name, v.Created, v.Id, v.ObjectLock)));
            if (page.Value.Next is null || page.Value.Items.Count == 0)
            {
                return buckets;
            }
            after = page.Value.Items[^1].Id;
        }
    }
}
