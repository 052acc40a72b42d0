using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http.Features;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Vault;

namespace Welkin.Server.S3;

/// <summary>
/// The S3 operations on a bucket that is a retention vault and on its objects (keys, each a series
/// of write-once records whose ids are the version ids): PutObject streamed into the vault's
/// <see cref="RecordService"/>, Get/HeadObject (with Range), DeleteObject of a version under the
/// retention rules or with a delete marker, DeleteObjects, CopyObject, the bucket's versioning and
/// Object Lock configuration, and the listings (<see cref="S3Listing"/>, ListObjectVersions).
/// </summary>
public sealed partial class S3Objects(
    RecordService records, RecordKeys keys, RecordDestruction destruction, S3Listing listing, S3ObjectLock objectLock, S3Multipart multipart,
    RecordVersions versions, IS3Buckets buckets, S3Options options)
{
    /// <summary>Subresources this face does not serve yet: answered 501 rather than taken for a plain object request.</summary>
    private static readonly string[] Unserved =
        ["tagging", "acl", "policy", "cors", "lifecycle", "website", "torrent", "attributes", "restore", "select"];

    public Task<S3Error?> DispatchAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key)
    {
        var request = context.Request;
        var method = request.Method;
        if (S3Multipart.Handles(request))
        {
            return multipart.DispatchAsync(context, identity, bucket, vaultId, key);
        }
        if (Unserved.FirstOrDefault(q => request.Query.ContainsKey(q)) is { } sub)
        {
            return Task.FromResult<S3Error?>(S3Errors.NotImplemented($"The '{sub}' subresource is not available on this endpoint yet."));
        }
        if (key.Length == 0)
        {
            return method switch
            {
                _ when HttpMethods.IsHead(method) => Task.FromResult<S3Error?>(Ok(context)),
                _ when HttpMethods.IsPut(method) && request.Query.ContainsKey("object-lock") => objectLock.PutConfigurationAsync(context, identity, bucket, vaultId),
                _ when HttpMethods.IsPut(method) && request.Query.ContainsKey("versioning") => objectLock.PutVersioningAsync(context, identity, bucket, vaultId),
                _ when HttpMethods.IsPost(method) && request.Query.ContainsKey("delete") => DeleteObjectsAsync(context, identity, vaultId),
                _ when !HttpMethods.IsGet(method) => Task.FromResult<S3Error?>(S3Errors.NotImplemented("This bucket operation is not available on this endpoint yet.")),
                _ when request.Query.ContainsKey("versioning") => Versioning(context),
                _ when request.Query.ContainsKey("object-lock") => objectLock.GetConfigurationAsync(context, identity, bucket, vaultId),
                _ when request.Query.ContainsKey("location") => Location(context),
                _ when request.Query.ContainsKey("versions") => ListVersionsAsync(context, identity, bucket, vaultId),
                _ => listing.ListAsync(context, identity, bucket, vaultId),
            };
        }
        if (request.Query.ContainsKey("retention") || request.Query.ContainsKey("legal-hold"))
        {
            return objectLock.ObjectAsync(context, identity, bucket, vaultId, key);
        }
        if (request.Headers.ContainsKey("x-amz-copy-source") && HttpMethods.IsPut(method))
        {
            return CopyAsync(context, identity, bucket, vaultId, key);
        }
        return method switch
        {
            _ when HttpMethods.IsPut(method) => PutAsync(context, identity, bucket, vaultId, key),
            _ when HttpMethods.IsGet(method) || HttpMethods.IsHead(method) => GetAsync(context, identity, bucket, vaultId, key),
            _ when HttpMethods.IsDelete(method) => DeleteAsync(context, identity, vaultId, key),
            _ => Task.FromResult<S3Error?>(S3Errors.MethodNotAllowed()),
        };
    }

    private async Task<S3Error?> PutAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key)
    {
        var request = context.Request;
        if (RecordService.CheckKey(key) is { } badKey)
        {
            return S3Errors.BadKey(key, badKey);
        }
        var (write, badLock) = objectLock.WriteOf(request, bucket);
        if (badLock is not null)
        {
            return badLock;
        }
        var declared = S3Body.IsChunked(identity.ContentSha256)
            ? long.TryParse(request.Headers["x-amz-decoded-content-length"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var decoded) ? decoded : (long?)null
            : request.ContentLength;
        if (declared is null && !S3Body.IsChunked(identity.ContentSha256))
        {
            return new S3Error("MissingContentLength", 411, "You must provide the Content-Length HTTP header.");
        }
        if (declared > records.MaxRecordBytes)
        {
            return TooLarge();
        }
        var (md5, md5Error) = Base64Digest(request.Headers["Content-MD5"].ToString(), 16,
            () => new S3Error("InvalidDigest", 400, "The Content-MD5 you specified was invalid."));
        var (sha256, shaError) = Base64Digest(request.Headers["x-amz-checksum-sha256"].ToString(), 32,
            () => S3Errors.InvalidRequest("Value for x-amz-checksum-sha256 header is invalid."));
        if ((md5Error ?? shaError) is { } badDigest)
        {
            return badDigest;
        }
        // A body signed by its SHA-256 is checked once, by the digest the record computes anyway, not hashed twice.
        var signedDigest = S3Body.IsPayloadSha256(identity.ContentSha256) && (sha256 is null || Convert.ToHexStringLower(sha256) == identity.ContentSha256)
            ? identity.ContentSha256 : null;
        var (body, refused) = S3Body.Open(request, identity, checkedByOperation: "x-amz-checksum-sha256", payloadCheckedByOperation: signedDigest is not null);
        if (refused is not null)
        {
            return refused;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // The record's own limit is the cipher's to enforce; aws-chunked framing adds its chunk headers on top.
            limit.MaxRequestBodySize = records.MaxRecordBytes + 1 + (S3Body.IsChunked(identity.ContentSha256) ? records.MaxRecordBytes / 64 + 65536 : 0);
        }
        await using var content = md5 is null ? body! : new Md5CheckingStream(body!, md5);
        var put = await records.PutAsync(identity.Caller, vaultId, key, write! with { Sha256 = signedDigest ?? (sha256 is null ? null : Convert.ToHexStringLower(sha256)) }, content, context.RequestAborted);
        if (!put.IsSuccess)
        {
            return signedDigest is not null && put.Error!.Code == "digest-mismatch" ? S3Errors.ContentSha256Mismatch() : ObjectError(put.Error!, bucket, key);
        }
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers["x-amz-request-id"] = context.TraceIdentifier;
        response.Headers.ETag = ETag(put.Value);
        response.Headers["x-amz-version-id"] = put.Value.Id;
        if (sha256 is not null)
        {
            response.Headers["x-amz-checksum-sha256"] = Convert.ToBase64String(sha256);
        }
        if (S3Body.VerifiedChecksum(body) is { } checksum)
        {
            response.Headers[checksum.Header] = checksum.Value;
        }
        response.ContentLength = 0;
        return null;
    }

    private async Task<S3Error?> GetAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key)
    {
        var ct = context.RequestAborted;
        var versionId = context.Request.Query["versionId"].ToString();
        var found = versionId.Length == 0
            ? await keys.CurrentAsync(identity.Caller, vaultId, key, ct)
            : await VersionAsync(identity, vaultId, key, versionId, ct);
        if (!found.IsSuccess)
        {
            return await MissingAsync(context, identity, vaultId, key, versionId, found.Error!)
                ?? (versionId.Length == 0 ? ObjectError(found.Error!, bucket, key) : VersionError(found.Error!, key, versionId));
        }
        var record = found.Value;
        var response = context.Response;
        var (range, unsatisfiable) = Range(context, record.SizeBytes);
        if (unsatisfiable is not null)
        {
            return unsatisfiable;
        }
        if (HttpMethods.IsHead(context.Request.Method))
        {
            WriteHeaders(context, bucket, record);
            WriteRange(context, range, record.SizeBytes);
            return null;
        }
        var opened = range is { } part
            ? await records.OpenRangeAsync(identity.Caller, vaultId, record.Id, part, ct)
            : await records.OpenAsync(identity.Caller, vaultId, record.Id, ct);
        if (!opened.IsSuccess)
        {
            return ObjectError(opened.Error!, bucket, key);
        }
        await using var stream = opened.Value.Content;
        WriteHeaders(context, bucket, opened.Value.Record);
        WriteRange(context, range, record.SizeBytes);
        try
        {
            await stream.CopyToAsync(response.Body, ct);
        }
        catch (VaultDataException)
        {
            // The headers are gone: a cut connection is the only way left to say the bytes are not whole.
            context.Abort();
        }
        return null;
    }

    private async Task<S3Error?> DeleteAsync(HttpContext context, S3Identity identity, string vaultId, string key)
    {
        if (RecordService.CheckKey(key) is { } badKey)
        {
            return S3Errors.BadKey(key, badKey);
        }
        var versionId = context.Request.Query["versionId"].ToString();
        var bypass = string.Equals(context.Request.Headers["x-amz-bypass-governance-retention"].ToString(), "true", StringComparison.OrdinalIgnoreCase);
        var deleted = await DeleteOneAsync(identity, vaultId, key, versionId, bypass, context.RequestAborted);
        if (deleted.Error is not null)
        {
            return deleted.Error;
        }
        NoContent(context, deleted.VersionId);
        if (deleted.Marker)
        {
            context.Response.Headers["x-amz-delete-marker"] = "true";
        }
        return null;
    }

    /// <summary>
    /// Deletes a version of the key (destroys a record under the retention rules, or removes a delete
    /// marker), or without <paramref name="versionId"/> adds a delete marker; a version already gone
    /// is deleted as S3 answers it. Which version was deleted or added, and whether it is a marker.
    /// </summary>
    private async Task<(string VersionId, bool Marker, S3Error? Error)> DeleteOneAsync(
        S3Identity identity, string vaultId, string key, string versionId, bool bypass, CancellationToken ct)
    {
        if (versionId.Length == 0)
        {
            var added = await versions.AddDeleteMarkerAsync(identity.Caller, vaultId, key, ct);
            return added.IsSuccess ? (added.Value.Id, true, null) : ("", false, S3Errors.From(added.Error!));
        }
        var found = await VersionAsync(identity, vaultId, key, versionId, ct);
        if (!found.IsSuccess)
        {
            if (found.Error!.Kind != ErrorKind.NotFound)
            {
                return (versionId, false, VersionError(found.Error!, key, versionId));
            }
            var marker = await versions.GetAsync(identity.Caller, vaultId, versionId, ct);
            if (marker.IsSuccess && marker.Value.IsDeleteMarker && marker.Value.Key == key)
            {
                var removed = await versions.RemoveDeleteMarkerAsync(identity.Caller, vaultId, versionId, ct);
                return removed.IsSuccess || removed.Error!.Kind == ErrorKind.NotFound ? (versionId, true, null) : (versionId, false, S3Errors.From(removed.Error!));
            }
            return (versionId, false, null);
        }
        var deleted = await destruction.DeleteAsync(identity.Caller, vaultId, versionId, bypass, null, ct);
        return deleted.IsSuccess || deleted.Error!.Kind == ErrorKind.NotFound ? (versionId, false, null) : (versionId, false, S3Errors.From(deleted.Error!));
    }

    /// <summary>A version of the key: a record of the vault stored under this key (another key's version is not this one's).</summary>
    private async Task<Result<VaultRecordView>> VersionAsync(S3Identity identity, string vaultId, string key, string versionId, CancellationToken ct)
    {
        if (!Ids.IsValid(versionId, Ids.VaultRecord))
        {
            return Error.Validation("versionId", "Invalid version id specified");
        }
        var found = await records.GetAsync(identity.Caller, vaultId, versionId, ct);
        return found.IsSuccess && (found.Value.Key != key || found.Value.State != VaultRecordState.Stored) ? Error.NotFound("Version", versionId) : found;
    }

    private static S3Error? NoContent(HttpContext context, string versionId)
    {
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        context.Response.Headers["x-amz-request-id"] = context.TraceIdentifier;
        context.Response.Headers["x-amz-version-id"] = versionId;
        return null;
    }

    private static void WriteHeaders(HttpContext context, S3Bucket bucket, VaultRecordView record)
    {
        var headers = context.Response.Headers;
        context.Response.StatusCode = StatusCodes.Status200OK;
        headers["x-amz-request-id"] = context.TraceIdentifier;
        headers.ETag = ETag(record);
        headers.LastModified = record.Created.ToString("R", CultureInfo.InvariantCulture);
        headers["x-amz-version-id"] = record.Id;
        headers.AcceptRanges = "bytes";
        headers.CacheControl = "no-store";
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = record.SizeBytes;
        if (record.Mode is { } mode && record.RetainUntil is { } until)
        {
            headers["x-amz-object-lock-mode"] = mode == RetentionMode.Compliance ? "COMPLIANCE" : "GOVERNANCE";
            headers["x-amz-object-lock-retain-until-date"] = S3Gateway.Timestamp(until);
        }
        if (bucket.ObjectLock)
        {
            headers["x-amz-object-lock-legal-hold"] = record.HoldIds.Count > 0 ? "ON" : "OFF";
        }
    }

    /// <summary>
    /// An object's ETag: the first 128 bits of the content's SHA-256 (what the record keeps), in hex,
    /// with S3's "-N" suffix of an ETag that is not the content's MD5, so that clients (the AWS SDKs)
    /// do not check the bytes they read against it as one.
    /// </summary>
    public static string ETag(VaultRecordView record) => ETag(record.Sha256);

    internal static S3Error ObjectError(Error error, S3Bucket bucket, string key) => error.Code switch
    {
        "digest-mismatch" => new S3Error("BadDigest", 400, "The checksum you specified did not match what we received."),
        "record-corrupt" => S3Errors.Internal() with { Cause = error.Cause },
        "record-too-large" => TooLarge(),
        _ when error.Kind == ErrorKind.NotFound && error.Detail.StartsWith("Vault", StringComparison.Ordinal) => S3Errors.NoSuchBucket(bucket.Name),
        _ => S3Errors.From(error, () => NoSuchKey(key)),
    };

    internal static S3Error VersionError(Error error, string key, string versionId) => error.Kind switch
    {
        ErrorKind.NotFound => new S3Error("NoSuchVersion", 404, "The specified version does not exist.") { Extra = [("Key", key), ("VersionId", versionId)] },
        ErrorKind.Validation => S3Errors.InvalidArgument("Invalid version id specified") with { Extra = [("ArgumentName", "versionId"), ("ArgumentValue", versionId)] },
        _ => S3Errors.From(error),
    };

    public static S3Error NoSuchKey(string key) => new("NoSuchKey", 404, "The specified key does not exist.") { Extra = [("Key", key)] };

    private static S3Error TooLarge() => new("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size.");

    private static (byte[]? Digest, S3Error? Error) Base64Digest(string header, int length, Func<S3Error> invalid)
    {
        if (header.Length == 0)
        {
            return (null, null);
        }
        var bytes = new byte[length];
        return Convert.TryFromBase64String(header, bytes, out var written) && written == length ? (bytes, null) : (null, invalid());
    }

    private static S3Error? Ok(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers["x-amz-request-id"] = context.TraceIdentifier;
        return null;
    }

    private static async Task<S3Error?> Versioning(HttpContext context)
    {
        // A vault keeps every version it is given; versioning cannot be suspended.
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "VersioningConfiguration", S3Gateway.Namespace);
            await xml.WriteElementStringAsync(null, "Status", S3Gateway.Namespace, "Enabled");
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    private static async Task<S3Error?> Location(HttpContext context)
    {
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "LocationConstraint", S3Gateway.Namespace);
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    /// <summary>Passes the bytes through; at their end, refuses them (BadDigest) unless their MD5 is the Content-MD5 sent.</summary>
    private sealed class Md5CheckingStream(Stream inner, byte[] expected) : ReadOnlyStream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            if (read > 0)
            {
                _hash.AppendData(buffer.Span[..read]);
            }
            else if (!CryptographicOperations.FixedTimeEquals(_hash.GetHashAndReset(), expected))
            {
                throw new S3PayloadException(new S3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received."));
            }
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
