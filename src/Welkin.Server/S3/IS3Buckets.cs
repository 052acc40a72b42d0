using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Server.S3;

/// <summary>A bucket as S3 lists it.</summary>
public sealed record S3Bucket(string Name, DateTimeOffset Created);

/// <summary>
/// The buckets the S3 face answers for: the retention vaults of the caller's account. The vault
/// domain implements it; it authorizes with the caller's roles and tenancy, as the API does.
/// </summary>
public interface IS3Buckets
{
    /// <summary>The buckets the caller's account owns (ListBuckets), or why the caller may not list them.</summary>
    Task<Result<IReadOnlyList<S3Bucket>>> ListAsync(Caller caller, CancellationToken ct);
}

/// <summary>A cloud without a vault store yet: every account owns no bucket.</summary>
public sealed class NoS3Buckets : IS3Buckets
{
    public Task<Result<IReadOnlyList<S3Bucket>>> ListAsync(Caller caller, CancellationToken ct)
    {
        Result<IReadOnlyList<S3Bucket>> result = Tenancy.Require(caller, Permission.ResourcesRead, "Listing buckets") is { } denied
            ? denied
            : new List<S3Bucket>();
        return Task.FromResult(result);
    }
}
