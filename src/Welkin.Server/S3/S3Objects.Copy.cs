using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Vault;

namespace Welkin.Server.S3;

/// <summary>
/// CopyObject: a version of a key in one of the caller's buckets streams, decrypted and authenticated
/// as it is read, into a new record of the target key, as a PutObject of the same bytes would write it
/// (the source's retention and legal holds are the source's and do not carry over).
/// </summary>
public sealed partial class S3Objects
{
    private async Task<S3Error?> CopyAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key)
    {
        var request = context.Request;
        var ct = context.RequestAborted;
        if (RecordService.CheckKey(key) is { } badKey)
        {
            return S3Errors.BadKey(key, badKey);
        }
        var (write, badLock) = objectLock.WriteOf(request, bucket);
        if (badLock is not null)
        {
            return badLock;
        }
        if (CopySource(request.Headers["x-amz-copy-source"].ToString()) is not var (sourceBucketName, sourceKey, sourceVersionId))
        {
            return S3Errors.InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey") with
            {
                Extra = [("ArgumentName", "x-amz-copy-source"), ("ArgumentValue", request.Headers["x-amz-copy-source"].ToString())],
            };
        }
        var directive = request.Headers["x-amz-metadata-directive"].ToString();
        if (directive is not ("" or "COPY" or "REPLACE"))
        {
            return S3Errors.InvalidArgument("Unknown metadata directive.") with { Extra = [("ArgumentName", "x-amz-metadata-directive"), ("ArgumentValue", directive)] };
        }
        if (sourceBucketName == bucket.Name && sourceKey == key && sourceVersionId.Length == 0 && directive != "REPLACE")
        {
            return S3Errors.InvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
        }
        var owned = await buckets.ListAsync(identity.Caller, ct);
        if (!owned.IsSuccess)
        {
            return S3Errors.From(owned.Error!, () => S3Errors.NoSuchBucket(sourceBucketName));
        }
        // Another account's bucket answers as a missing one, as for every other operation.
        if (owned.Value.FirstOrDefault(b => b.Name == sourceBucketName) is not { VaultId: { } sourceVaultId } sourceBucket)
        {
            return S3Errors.NoSuchBucket(sourceBucketName);
        }
        var found = await CopySourceVersionAsync(identity, sourceBucket, sourceVaultId, sourceKey, sourceVersionId, ct);
        if (found.Error is not null)
        {
            return found.Error;
        }
        var source = found.Record!;
        if (CopyPrecondition(request, source) is { } failed)
        {
            return failed;
        }
        var opened = await records.OpenAsync(identity.Caller, sourceVaultId, source.Id, ct);
        if (!opened.IsSuccess)
        {
            return ObjectError(opened.Error!, sourceBucket, sourceKey);
        }
        Result<VaultRecordView> put;
        await using (var content = opened.Value.Content)
        {
            try
            {
                put = await records.PutAsync(identity.Caller, vaultId, key, write! with { Sha256 = source.Sha256 }, content, ct);
            }
            catch (VaultDataException e)
            {
                return S3Errors.Internal() with { Cause = e.Message };
            }
        }
        if (!put.IsSuccess)
        {
            return ObjectError(put.Error!, bucket, key);
        }
        context.Response.Headers["x-amz-version-id"] = put.Value.Id;
        context.Response.Headers["x-amz-copy-source-version-id"] = source.Id;
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "CopyObjectResult", Ns);
            await xml.WriteElementStringAsync(null, "ETag", Ns, ETag(put.Value));
            await xml.WriteElementStringAsync(null, "LastModified", Ns, S3Gateway.Timestamp(put.Value.Created));
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    /// <summary>The source's bucket, key and version id (empty for the current one), from <c>[/]bucket/key[?versionId=id]</c> percent-encoded.</summary>
    private static (string Bucket, string Key, string VersionId)? CopySource(string header)
    {
        var query = header.IndexOf('?', StringComparison.Ordinal);
        var path = Uri.UnescapeDataString(query < 0 ? header : header[..query]).TrimStart('/');
        var versionId = "";
        if (query >= 0)
        {
            var parameters = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(header[query..]);
            if (parameters.Count != 1 || !parameters.TryGetValue("versionId", out var value) || value.Count != 1)
            {
                return null;
            }
            versionId = value.ToString();
        }
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        return slash <= 0 || slash == path.Length - 1 ? null : (path[..slash], path[(slash + 1)..], versionId);
    }

    private async Task<(VaultRecordView? Record, S3Error? Error)> CopySourceVersionAsync(
        S3Identity identity, S3Bucket sourceBucket, string sourceVaultId, string sourceKey, string versionId, CancellationToken ct)
    {
        if (versionId.Length == 0)
        {
            var current = await keys.CurrentAsync(identity.Caller, sourceVaultId, sourceKey, ct);
            return current.IsSuccess ? (current.Value, null) : (null, ObjectError(current.Error!, sourceBucket, sourceKey));
        }
        var found = await VersionAsync(identity, sourceVaultId, sourceKey, versionId, ct);
        if (found.IsSuccess)
        {
            return (found.Value, null);
        }
        var marker = found.Error!.Kind == ErrorKind.NotFound ? await versions.GetAsync(identity.Caller, sourceVaultId, versionId, ct) : found.Error;
        return marker.IsSuccess && marker.Value.IsDeleteMarker && marker.Value.Key == sourceKey
            ? (null, S3Errors.InvalidRequest("The source of a copy request may not specifically refer to a delete marker by version id."))
            : (null, VersionError(found.Error!, sourceKey, versionId));
    }

    /// <summary>The x-amz-copy-source-if-* conditions, combined as S3 documents: a matching if-match outweighs if-unmodified-since, and so on.</summary>
    private static S3Error? CopyPrecondition(HttpRequest request, VaultRecordView source)
    {
        var etag = ETag(source);
        var modified = source.Created.ToUnixTimeSeconds();
        var ifMatch = request.Headers["x-amz-copy-source-if-match"].ToString();
        var ifNoneMatch = request.Headers["x-amz-copy-source-if-none-match"].ToString();
        bool Matches(string list) => list.Split(',').Select(t => t.Trim()).Any(t => t == "*" || t == etag || "\"" + t + "\"" == etag);
        long? Date(string header) =>
            DateTimeOffset.TryParse(request.Headers[header].ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) ? d.ToUnixTimeSeconds() : null;
        var failed = ifMatch.Length > 0 ? (Matches(ifMatch) ? null : "x-amz-copy-source-If-Match")
            : Date("x-amz-copy-source-if-unmodified-since") is { } unmodified && modified > unmodified ? "x-amz-copy-source-If-Unmodified-Since" : null;
        failed ??= ifNoneMatch.Length > 0 ? (Matches(ifNoneMatch) ? "x-amz-copy-source-If-None-Match" : null)
            : Date("x-amz-copy-source-if-modified-since") is { } since && modified <= since ? "x-amz-copy-source-If-Modified-Since" : null;
        return failed is null ? null : new S3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold") { Extra = [("Condition", failed)] };
    }
}
