using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Vault;

namespace Welkin.Server.S3;

/// <summary>Delete markers on reads, ListObjectVersions and DeleteObjects.</summary>
public sealed partial class S3Objects
{
    /// <summary>DeleteObjects takes at most this many keys, as S3 does.</summary>
    public const int MaxDeleteKeys = 1000;

    private const string Ns = S3Gateway.Namespace;

    /// <summary>
    /// A read that found no version: when the key's newest version is a delete marker, S3 says so in
    /// the 404's headers; when the version asked for is a delete marker, the read is 405 MethodNotAllowed.
    /// Null when the read's own not-found answer stands.
    /// </summary>
    private async Task<S3Error?> MissingAsync(HttpContext context, S3Identity identity, string vaultId, string key, string versionId, Error error)
    {
        if (error.Kind != ErrorKind.NotFound)
        {
            return null;
        }
        var ct = context.RequestAborted;
        var found = versionId.Length == 0
            ? await versions.LatestAsync(identity.Caller, vaultId, key, ct)
            : await versions.GetAsync(identity.Caller, vaultId, versionId, ct);
        if (!found.IsSuccess || !found.Value.IsDeleteMarker || found.Value.Key != key)
        {
            return null;
        }
        var headers = context.Response.Headers;
        headers["x-amz-delete-marker"] = "true";
        headers["x-amz-version-id"] = found.Value.Id;
        if (versionId.Length == 0)
        {
            return null;
        }
        headers.LastModified = found.Value.Created.ToString("R", CultureInfo.InvariantCulture);
        return S3Errors.MethodNotAllowed() with { Extra = [("Method", context.Request.Method), ("ResourceType", "DeleteMarker")] };
    }

    private async Task<S3Error?> ListVersionsAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId)
    {
        var query = context.Request.Query;
        var encoding = query["encoding-type"].ToString();
        var maxKeysText = query["max-keys"].ToString();
        var maxKeys = RecordKeys.MaxPage;
        if (encoding is not ("" or "url"))
        {
            return S3Errors.InvalidArgument("Invalid Encoding Method specified in Request");
        }
        if (maxKeysText.Length > 0 && !int.TryParse(maxKeysText, NumberStyles.None, CultureInfo.InvariantCulture, out maxKeys))
        {
            return S3Errors.InvalidArgument("Provided max-keys not an integer or within integer range");
        }
        maxKeys = Math.Min(maxKeys, RecordKeys.MaxPage);
        var (prefix, delimiter) = (query["prefix"].ToString(), query["delimiter"].ToString());
        var (keyMarker, versionIdMarker) = (query["key-marker"].ToString(), query["version-id-marker"].ToString());
        if (versionIdMarker.Length > 0 && keyMarker.Length == 0)
        {
            return S3Errors.InvalidArgument("A version-id marker cannot be specified without a key marker.");
        }
        if (versionIdMarker.Length > 0 && !Ids.IsValid(versionIdMarker, Ids.VaultRecord))
        {
            return S3Errors.InvalidArgument("Invalid version id specified") with { Extra = [("ArgumentName", "version-id-marker"), ("ArgumentValue", versionIdMarker)] };
        }
        var walked = await WalkVersionsAsync(identity, vaultId, prefix, delimiter, keyMarker, versionIdMarker, maxKeys, context.RequestAborted);
        if (walked.Error is not null)
        {
            return S3Errors.From(walked.Error, () => S3Errors.NoSuchBucket(bucket.Name));
        }
        var found = walked.Found!;
        string E(string s) => encoding == "url" ? Uri.EscapeDataString(s).Replace("%2F", "/", StringComparison.Ordinal) : S3Errors.XmlText(s);
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "ListVersionsResult", Ns);
            await xml.WriteElementStringAsync(null, "Name", Ns, bucket.Name);
            await xml.WriteElementStringAsync(null, "Prefix", Ns, E(prefix));
            await xml.WriteElementStringAsync(null, "KeyMarker", Ns, E(keyMarker));
            await xml.WriteElementStringAsync(null, "VersionIdMarker", Ns, versionIdMarker);
            if (found.Truncated)
            {
                await xml.WriteElementStringAsync(null, "NextKeyMarker", Ns, E(found.LastKey!));
                if (found.LastVersionId is { } next)
                {
                    await xml.WriteElementStringAsync(null, "NextVersionIdMarker", Ns, next);
                }
            }
            await xml.WriteElementStringAsync(null, "MaxKeys", Ns, maxKeys.ToString(CultureInfo.InvariantCulture));
            if (delimiter.Length > 0)
            {
                await xml.WriteElementStringAsync(null, "Delimiter", Ns, E(delimiter));
            }
            if (encoding.Length > 0)
            {
                await xml.WriteElementStringAsync(null, "EncodingType", Ns, encoding);
            }
            await xml.WriteElementStringAsync(null, "IsTruncated", Ns, found.Truncated ? "true" : "false");
            foreach (var (version, latest) in found.Versions)
            {
                await WriteVersionAsync(xml, identity, version, latest, E);
            }
            foreach (var common in found.Prefixes)
            {
                await xml.WriteStartElementAsync(null, "CommonPrefixes", Ns);
                await xml.WriteElementStringAsync(null, "Prefix", Ns, E(common));
                await xml.WriteEndElementAsync();
            }
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    private static async Task WriteVersionAsync(XmlWriter xml, S3Identity identity, RecordVersion version, bool latest, Func<string, string> e)
    {
        await xml.WriteStartElementAsync(null, version.IsDeleteMarker ? "DeleteMarker" : "Version", Ns);
        await xml.WriteElementStringAsync(null, "Key", Ns, e(version.Key));
        await xml.WriteElementStringAsync(null, "VersionId", Ns, version.Id);
        await xml.WriteElementStringAsync(null, "IsLatest", Ns, latest ? "true" : "false");
        await xml.WriteElementStringAsync(null, "LastModified", Ns, S3Gateway.Timestamp(version.Created));
        if (!version.IsDeleteMarker)
        {
            await xml.WriteElementStringAsync(null, "ETag", Ns, ETag(version.Sha256));
            await xml.WriteElementStringAsync(null, "Size", Ns, version.SizeBytes.ToString(CultureInfo.InvariantCulture));
            await xml.WriteElementStringAsync(null, "StorageClass", Ns, "STANDARD");
        }
        await xml.WriteStartElementAsync(null, "Owner", Ns);
        await xml.WriteElementStringAsync(null, "ID", Ns, identity.Caller.AccountId ?? identity.Caller.PrincipalId);
        await xml.WriteElementStringAsync(null, "DisplayName", Ns, S3Errors.XmlText(identity.Caller.Name));
        await xml.WriteEndElementAsync();
        await xml.WriteEndElementAsync();
    }

    /// <summary>What a walk over the versions found: versions (with IsLatest) and common prefixes, and where the next page starts.</summary>
    private sealed record WalkedVersions(List<(RecordVersion Version, bool Latest)> Versions, List<string> Prefixes, bool Truncated, string? LastKey, string? LastVersionId);

    /// <summary>
    /// Walks the versions after the markers by key then newest first, rolling keys that hold the
    /// delimiter past the prefix into common prefixes (each counted once against max-keys); a key
    /// marker that is a common prefix (a previous page's NextKeyMarker) skips the keys under it.
    /// A key's first version seen is its newest, unless the walk began inside that key's versions.
    /// </summary>
    private async Task<(WalkedVersions? Found, Error? Error)> WalkVersionsAsync(
        S3Identity identity, string vaultId, string prefix, string delimiter, string keyMarker, string versionIdMarker, int maxKeys, CancellationToken ct)
    {
        var found = new List<(RecordVersion, bool)>();
        var prefixes = new List<string>();
        var (afterKey, afterId) = (keyMarker, versionIdMarker);
        string? skip = delimiter.Length > 0 && keyMarker.EndsWith(delimiter, StringComparison.Ordinal) ? keyMarker : null;
        string? lastKey = null;
        string? lastVersionId = null;
        var previousKey = versionIdMarker.Length > 0 ? keyMarker : null;
        var take = Math.Clamp(maxKeys + 1, 1, RecordKeys.MaxPage);
        while (true)
        {
            var page = await versions.ListAsync(identity.Caller, vaultId, prefix, afterKey, afterId, take, ct);
            if (!page.IsSuccess)
            {
                return (null, page.Error);
            }
            foreach (var version in page.Value)
            {
                (afterKey, afterId) = (version.Key, version.Id);
                var latest = version.Key != previousKey;
                previousKey = version.Key;
                if (skip is not null && version.Key.StartsWith(skip, StringComparison.Ordinal))
                {
                    continue;
                }
                var cut = delimiter.Length == 0 ? -1 : version.Key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
                if (found.Count + prefixes.Count == maxKeys)
                {
                    return (new WalkedVersions(found, prefixes, maxKeys > 0, lastKey, lastVersionId), null);
                }
                if (cut < 0)
                {
                    found.Add((version, latest));
                    (lastKey, lastVersionId) = (version.Key, version.Id);
                }
                else
                {
                    var common = version.Key[..(cut + delimiter.Length)];
                    prefixes.Add(common);
                    (lastKey, lastVersionId, skip) = (common, null, common);
                }
            }
            if (page.Value.Count < take)
            {
                return (new WalkedVersions(found, prefixes, false, lastKey, lastVersionId), null);
            }
        }
    }

    private async Task<S3Error?> DeleteObjectsAsync(HttpContext context, S3Identity identity, string vaultId)
    {
        var request = context.Request;
        var ct = context.RequestAborted;
        var (body, refused) = await S3Xml.ReadBodyAsync(request, identity, options.MaxXmlBodyBytes, ct);
        if (refused is not null)
        {
            return refused;
        }
        if (S3Checksums.CheckRequired(request.Headers, body!) is { } badDigest)
        {
            return badDigest;
        }
        var (document, malformed) = S3Xml.Parse(body!);
        if (malformed is not null)
        {
            return malformed;
        }
        var root = document!.Root!;
        var objects = root.Elements().Where(e => e.Name.LocalName == "Object").ToList();
        if (root.Name.LocalName != "Delete" || objects.Count is 0 or > MaxDeleteKeys || objects.Any(o => Child(o, "Key") is null))
        {
            return S3Errors.MalformedXml();
        }
        var quiet = string.Equals(Child(root, "Quiet")?.Value.Trim(), "true", StringComparison.OrdinalIgnoreCase);
        var bypass = string.Equals(request.Headers["x-amz-bypass-governance-retention"].ToString(), "true", StringComparison.OrdinalIgnoreCase);
        var results = new List<(string Key, string VersionId, string MarkerId, S3Error? Error)>();
        foreach (var entry in objects)
        {
            var key = Child(entry, "Key")!.Value;
            var versionId = Child(entry, "VersionId")?.Value ?? "";
            var (deletedId, marker, error) = RecordService.CheckKey(key) is { } badKey
                ? (versionId, false, S3Errors.InvalidArgument(badKey.Detail))
                : await DeleteOneAsync(identity, vaultId, key, versionId, bypass, ct);
            results.Add((key, versionId, marker && error is null ? deletedId : "", error));
        }
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "DeleteResult", Ns);
            foreach (var (key, versionId, markerId, error) in results.Where(r => r.Error is not null || !quiet))
            {
                await xml.WriteStartElementAsync(null, error is null ? "Deleted" : "Error", Ns);
                await xml.WriteElementStringAsync(null, "Key", Ns, S3Errors.XmlText(key));
                if (versionId.Length > 0)
                {
                    await xml.WriteElementStringAsync(null, "VersionId", Ns, S3Errors.XmlText(versionId));
                }
                if (error is not null)
                {
                    await xml.WriteElementStringAsync(null, "Code", Ns, error.Code);
                    await xml.WriteElementStringAsync(null, "Message", Ns, S3Errors.XmlText(error.Message));
                }
                else if (markerId.Length > 0)
                {
                    await xml.WriteElementStringAsync(null, "DeleteMarker", Ns, "true");
                    await xml.WriteElementStringAsync(null, "DeleteMarkerVersionId", Ns, markerId);
                }
                await xml.WriteEndElementAsync();
            }
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    private static XElement? Child(XElement parent, string name) => parent.Elements().FirstOrDefault(e => e.Name.LocalName == name);

    private static string ETag(string sha256) => "\"" + sha256[..32] + "-1\"";
}
