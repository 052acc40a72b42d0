using System.Globalization;
using System.Text;
using System.Xml;
using Welkin.Contracts;
using Welkin.Core.Vault;

namespace Welkin.Server.S3;

/// <summary>
/// ListObjectsV2 (<c>list-type=2</c>) and ListObjects (version 1) over a vault: the current version
/// of each key in key order, with prefix, delimiter (common prefixes), max-keys and continuation
/// (an opaque token in V2, a marker in V1), and <c>encoding-type=url</c>.
/// </summary>
public sealed class S3Listing(RecordKeys keys)
{
    private const string Ns = S3Gateway.Namespace;

    /// <summary>What one listing walk found: objects and common prefixes in key order, and where the next page starts.</summary>
    private sealed record Walked(List<VaultRecordView> Contents, List<string> Prefixes, bool Truncated, string? Last, bool LastIsPrefix);

    public async Task<S3Error?> ListAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId)
    {
        var query = context.Request.Query;
        var v2 = query["list-type"].ToString() switch
        {
            "2" => true,
            "" => false,
            _ => (bool?)null,
        };
        var encoding = query["encoding-type"].ToString();
        if (v2 is null || encoding is not ("" or "url"))
        {
            return S3Errors.InvalidArgument(v2 is null ? "Invalid list-type." : "Invalid Encoding Method specified in Request");
        }
        var maxKeysText = query["max-keys"].ToString();
        var maxKeys = RecordKeys.MaxPage;
        if (maxKeysText.Length > 0 && (!int.TryParse(maxKeysText, NumberStyles.None, CultureInfo.InvariantCulture, out maxKeys)))
        {
            return S3Errors.InvalidArgument("Provided max-keys not an integer or within integer range");
        }
        maxKeys = Math.Min(maxKeys, RecordKeys.MaxPage);
        var prefix = query["prefix"].ToString();
        var delimiter = query["delimiter"].ToString();
        string after;
        string? skip = null;
        var token = query["continuation-token"].ToString();
        if (v2.Value && query.ContainsKey("continuation-token"))
        {
            if (Token.Decode(token) is not { } resumed)
            {
                return S3Errors.InvalidArgument("The continuation token provided is incorrect");
            }
            (after, skip) = resumed.IsPrefix ? (resumed.Value, resumed.Value) : (resumed.Value, null);
        }
        else
        {
            after = v2.Value ? query["start-after"].ToString() : query["marker"].ToString();
            // A V1 marker that is a common prefix (a previous page's NextMarker) skips the keys under it.
            skip = !v2.Value && delimiter.Length > 0 && after.EndsWith(delimiter, StringComparison.Ordinal) ? after : null;
        }
        var walked = await WalkAsync(identity, vaultId, prefix, delimiter, after, skip, maxKeys, context.RequestAborted);
        if (walked.Error is not null)
        {
            return S3Errors.From(walked.Error, () => S3Errors.NoSuchBucket(bucket.Name));
        }
        var found = walked.Found!;
        string E(string s) => encoding == "url" ? Uri.EscapeDataString(s).Replace("%2F", "/", StringComparison.Ordinal) : S3Errors.XmlText(s);
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "ListBucketResult", Ns);
            await xml.WriteElementStringAsync(null, "Name", Ns, bucket.Name);
            await xml.WriteElementStringAsync(null, "Prefix", Ns, E(prefix));
            if (delimiter.Length > 0)
            {
                await xml.WriteElementStringAsync(null, "Delimiter", Ns, E(delimiter));
            }
            await xml.WriteElementStringAsync(null, "MaxKeys", Ns, maxKeys.ToString(CultureInfo.InvariantCulture));
            if (encoding.Length > 0)
            {
                await xml.WriteElementStringAsync(null, "EncodingType", Ns, encoding);
            }
            await xml.WriteElementStringAsync(null, "IsTruncated", Ns, found.Truncated ? "true" : "false");
            await WritePagingAsync(xml, v2.Value, query, found, delimiter, E);
            foreach (var record in found.Contents)
            {
                await WriteObjectAsync(xml, record, E);
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

    private static async Task WritePagingAsync(XmlWriter xml, bool v2, IQueryCollection query, Walked found, string delimiter, Func<string, string> e)
    {
        if (v2)
        {
            await xml.WriteElementStringAsync(null, "KeyCount", Ns, (found.Contents.Count + found.Prefixes.Count).ToString(CultureInfo.InvariantCulture));
            if (query.ContainsKey("continuation-token"))
            {
                await xml.WriteElementStringAsync(null, "ContinuationToken", Ns, query["continuation-token"].ToString());
            }
            if (query["start-after"].ToString() is { Length: > 0 } startAfter)
            {
                await xml.WriteElementStringAsync(null, "StartAfter", Ns, e(startAfter));
            }
            if (found.Truncated)
            {
                await xml.WriteElementStringAsync(null, "NextContinuationToken", Ns, Token.Encode(found.Last!, found.LastIsPrefix));
            }
            return;
        }
        await xml.WriteElementStringAsync(null, "Marker", Ns, e(query["marker"].ToString()));
        // As S3 does: NextMarker only with a delimiter; without one the last key is the next marker.
        if (found.Truncated && delimiter.Length > 0)
        {
            await xml.WriteElementStringAsync(null, "NextMarker", Ns, e(found.Last!));
        }
    }

    private static async Task WriteObjectAsync(XmlWriter xml, VaultRecordView record, Func<string, string> e)
    {
        await xml.WriteStartElementAsync(null, "Contents", Ns);
        await xml.WriteElementStringAsync(null, "Key", Ns, e(record.Key));
        await xml.WriteElementStringAsync(null, "LastModified", Ns, S3Gateway.Timestamp(record.Created));
        await xml.WriteElementStringAsync(null, "ETag", Ns, S3Objects.ETag(record));
        await xml.WriteElementStringAsync(null, "Size", Ns, record.SizeBytes.ToString(CultureInfo.InvariantCulture));
        await xml.WriteElementStringAsync(null, "StorageClass", Ns, "STANDARD");
        await xml.WriteEndElementAsync();
    }

    /// <summary>
    /// Walks the keys after <paramref name="after"/> in order, rolling the keys that hold the delimiter
    /// past the prefix into common prefixes (each counted once against max-keys), and keys under
    /// <paramref name="skip"/> (the common prefix a previous page ended on) skipped.
    /// </summary>
    private async Task<(Walked? Found, Core.Common.Error? Error)> WalkAsync(
        S3Identity identity, string vaultId, string prefix, string delimiter, string after, string? skip, int maxKeys, CancellationToken ct)
    {
        var contents = new List<VaultRecordView>();
        var prefixes = new List<string>();
        string? last = null;
        var lastIsPrefix = false;
        var take = Math.Clamp(maxKeys + 1, 1, RecordKeys.MaxPage);
        while (true)
        {
            var page = await keys.CurrentVersionsAsync(identity.Caller, vaultId, prefix, after, take, ct);
            if (!page.IsSuccess)
            {
                return (null, page.Error);
            }
            foreach (var record in page.Value)
            {
                after = record.Key;
                if (skip is not null && record.Key.StartsWith(skip, StringComparison.Ordinal))
                {
                    continue;
                }
                var cut = delimiter.Length == 0 ? -1 : record.Key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
                var common = cut < 0 ? null : record.Key[..(cut + delimiter.Length)];
                if (contents.Count + prefixes.Count == maxKeys)
                {
                    return (new Walked(contents, prefixes, maxKeys > 0, last, lastIsPrefix), null);
                }
                if (common is null)
                {
                    contents.Add(record);
                    (last, lastIsPrefix) = (record.Key, false);
                }
                else
                {
                    prefixes.Add(common);
                    (last, lastIsPrefix, skip) = (common, true, common);
                }
            }
            if (page.Value.Count < take)
            {
                return (new Walked(contents, prefixes, false, last, lastIsPrefix), null);
            }
        }
    }

    /// <summary>The V2 continuation token: where the page ended (a key, or a common prefix whose keys are skipped), base64url.</summary>
    private static class Token
    {
        public static string Encode(string last, bool isPrefix) =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes((isPrefix ? "p:" : "k:") + last)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        public static (string Value, bool IsPrefix)? Decode(string token)
        {
            if (token.Length is 0 or > 4096)
            {
                return null;
            }
            var padded = token.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var bytes = new byte[padded.Length];
            if (!Convert.TryFromBase64String(padded, bytes, out var length))
            {
                return null;
            }
            string text;
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, length);
            }
            catch (DecoderFallbackException)
            {
                return null;
            }
            return text.Length > 2 && text[1] == ':' && text[0] is 'p' or 'k' ? (text[2..], text[0] == 'p') : null;
        }
    }
}
