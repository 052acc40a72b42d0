using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Server.S3;

/// <summary>A bucket as S3 lists it; <paramref name="VaultId"/> is the vault that holds its objects (none: it serves no object operations).</summary>
public sealed record S3Bucket(string Name, DateTimeOffset Created, string? VaultId = null, bool ObjectLock = false);

/// <summary>
/// The buckets the S3 face answers for: the retention vaults of the caller's account
/// (<see cref="VaultBuckets"/>); it authorizes with the caller's roles and tenancy, as the API does.
/// </summary>
public interface IS3Buckets
{
    /// <summary>The buckets the caller's account owns (ListBuckets), or why the caller may not list them.</summary>
    Task<Result<IReadOnlyList<S3Bucket>>> ListAsync(Caller caller, CancellationToken ct);
}
