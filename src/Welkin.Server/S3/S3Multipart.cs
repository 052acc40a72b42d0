using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http.Features;
using Welkin.Core.Common;
using Welkin.Core.Vault;

namespace Welkin.Server.S3;

/// <summary>
/// S3's multipart upload over a vault (<see cref="RecordUploads"/>): CreateMultipartUpload,
/// UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts and ListMultipartUploads.
/// A part's ETag is its MD5, as AWS's is; the completed object's is AWS's multipart form.
/// </summary>
public sealed class S3Multipart(RecordUploads uploads, S3Options options)
{
    private const string Ns = S3Gateway.Namespace;

    /// <summary>Whether the request is one of the multipart operations (it names an upload, or the uploads subresource).</summary>
    public static bool Handles(HttpRequest request) => request.Query.ContainsKey("uploadId") || request.Query.ContainsKey("uploads");

    public Task<S3Error?> DispatchAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key)
    {
        var request = context.Request;
        var method = request.Method;
        if (key.Length == 0)
        {
            return HttpMethods.IsGet(method) && !request.Query.ContainsKey("uploadId")
                ? ListUploadsAsync(context, identity, bucket, vaultId)
                : Task.FromResult<S3Error?>(S3Errors.MethodNotAllowed());
        }
        if (request.Query.ContainsKey("uploads"))
        {
            return HttpMethods.IsPost(method) ? CreateAsync(context, identity, bucket, vaultId, key) : Task.FromResult<S3Error?>(S3Errors.MethodNotAllowed());
        }
        var uploadId = request.Query["uploadId"].ToString();
        return method switch
        {
            _ when HttpMethods.IsPut(method) && request.Headers.ContainsKey("x-amz-copy-source") =>
                Task.FromResult<S3Error?>(S3Errors.NotImplemented("UploadPartCopy is not available on this endpoint yet.")),
            _ when HttpMethods.IsPut(method) => PartAsync(context, identity, bucket, vaultId, key, uploadId),
            _ when HttpMethods.IsPost(method) => CompleteAsync(context, identity, bucket, vaultId, key, uploadId),
            _ when HttpMethods.IsDelete(method) => AbortAsync(context, identity, bucket, vaultId, key, uploadId),
            _ when HttpMethods.IsGet(method) => ListPartsAsync(context, identity, bucket, vaultId, key, uploadId),
            _ => Task.FromResult<S3Error?>(S3Errors.MethodNotAllowed()),
        };
    }

    private async Task<S3Error?> CreateAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key)
    {
        if (context.Request.Headers.Keys.Any(h => h.StartsWith("x-amz-object-lock-", StringComparison.OrdinalIgnoreCase)))
        {
            return S3Errors.NotImplemented("Object Lock headers on CreateMultipartUpload are not available on this endpoint yet: write into a retention class through the API.");
        }
        var created = await uploads.CreateAsync(identity.Caller, vaultId, key, context.RequestAborted);
        if (!created.IsSuccess)
        {
            return Fail(created.Error!, bucket, "");
        }
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "InitiateMultipartUploadResult", Ns);
            await xml.WriteElementStringAsync(null, "Bucket", Ns, S3Errors.XmlText(bucket.Name));
            await xml.WriteElementStringAsync(null, "Key", Ns, S3Errors.XmlText(key));
            await xml.WriteElementStringAsync(null, "UploadId", Ns, created.Value.Id);
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    private async Task<S3Error?> PartAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key, string uploadId)
    {
        var request = context.Request;
        var numberText = request.Query["partNumber"].ToString();
        if (!int.TryParse(numberText, NumberStyles.None, CultureInfo.InvariantCulture, out var partNumber) || partNumber is < 1 or > RecordUploads.MaxParts)
        {
            return S3Errors.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
                with { Extra = [("ArgumentName", "partNumber"), ("ArgumentValue", numberText)] };
        }
        var streaming = identity.ContentSha256 == S3Body.StreamingSigned;
        var declared = streaming
            ? long.TryParse(request.Headers["x-amz-decoded-content-length"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var decoded) ? decoded : (long?)null
            : request.ContentLength;
        if (declared is null && !streaming)
        {
            return new S3Error("MissingContentLength", 411, "You must provide the Content-Length HTTP header.");
        }
        if (declared > uploads.MaxPartSize)
        {
            return TooLarge();
        }
        var (md5, md5Error) = HexOfBase64(request.Headers["Content-MD5"].ToString(), 16,
            () => new S3Error("InvalidDigest", 400, "The Content-MD5 you specified was invalid."));
        var (sha256, shaError) = HexOfBase64(request.Headers["x-amz-checksum-sha256"].ToString(), 32,
            () => S3Errors.InvalidRequest("Value for x-amz-checksum-sha256 header is invalid."));
        if ((md5Error ?? shaError) is { } badDigest)
        {
            return badDigest;
        }
        var (body, refused) = S3Body.Open(request, identity);
        if (refused is not null)
        {
            return refused;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            var max = uploads.MaxPartSize;
            limit.MaxRequestBodySize = max + 1 + (streaming ? max / 64 + 65536 : 0);
        }
        await using var content = body!;
        var stored = await uploads.PutPartAsync(identity.Caller, vaultId, key, uploadId, partNumber, md5, sha256, content, context.RequestAborted);
        if (!stored.IsSuccess)
        {
            return Fail(stored.Error!, bucket, uploadId);
        }
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers["x-amz-request-id"] = context.TraceIdentifier;
        response.Headers.ETag = PartETag(stored.Value.Md5);
        if (sha256 is not null)
        {
            response.Headers["x-amz-checksum-sha256"] = request.Headers["x-amz-checksum-sha256"].ToString();
        }
        response.ContentLength = 0;
        return null;
    }

    private async Task<S3Error?> CompleteAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key, string uploadId)
    {
        var (document, bad) = await S3Xml.ReadAsync(context.Request, identity, options.MaxXmlBodyBytes, context.RequestAborted);
        if (bad is not null)
        {
            return bad;
        }
        var named = PartList(document!);
        if (named is null)
        {
            return S3Errors.MalformedXml();
        }
        var completed = await uploads.CompleteAsync(identity.Caller, vaultId, key, uploadId, named, context.RequestAborted);
        if (!completed.IsSuccess)
        {
            return Fail(completed.Error!, bucket, uploadId);
        }
        var request = context.Request;
        context.Response.Headers["x-amz-version-id"] = completed.Value.Record.Id;
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "CompleteMultipartUploadResult", Ns);
            await xml.WriteElementStringAsync(null, "Location", Ns, S3Errors.XmlText($"{request.Scheme}://{request.Host}/{bucket.Name}/{key}"));
            await xml.WriteElementStringAsync(null, "Bucket", Ns, S3Errors.XmlText(bucket.Name));
            await xml.WriteElementStringAsync(null, "Key", Ns, S3Errors.XmlText(key));
            await xml.WriteElementStringAsync(null, "ETag", Ns, "\"" + completed.Value.ETag + "\"");
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    private async Task<S3Error?> AbortAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key, string uploadId)
    {
        var aborted = await uploads.AbortAsync(identity.Caller, vaultId, key, uploadId, context.RequestAborted);
        if (!aborted.IsSuccess)
        {
            return Fail(aborted.Error!, bucket, uploadId);
        }
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        context.Response.Headers["x-amz-request-id"] = context.TraceIdentifier;
        return null;
    }

    private async Task<S3Error?> ListPartsAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key, string uploadId)
    {
        var query = context.Request.Query;
        if (Number(query["max-parts"].ToString(), 1000) is not { } maxParts || Number(query["part-number-marker"].ToString(), 0) is not { } marker)
        {
            return S3Errors.InvalidArgument("Provided max-parts or part-number-marker not an integer or within integer range");
        }
        var listed = await uploads.PartsAsync(identity.Caller, vaultId, key, uploadId, context.RequestAborted);
        if (!listed.IsSuccess)
        {
            return Fail(listed.Error!, bucket, uploadId);
        }
        var (upload, all) = listed.Value;
        var after = all.Where(p => p.PartNumber > marker).ToList();
        var page = after.Take(Math.Min(maxParts, 1000)).ToList();
        var truncated = page.Count < after.Count;
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "ListPartsResult", Ns);
            await xml.WriteElementStringAsync(null, "Bucket", Ns, S3Errors.XmlText(bucket.Name));
            await xml.WriteElementStringAsync(null, "Key", Ns, S3Errors.XmlText(key));
            await xml.WriteElementStringAsync(null, "UploadId", Ns, upload.Id);
            await WritePrincipalsAsync(xml, identity, upload);
            await xml.WriteElementStringAsync(null, "StorageClass", Ns, "STANDARD");
            await xml.WriteElementStringAsync(null, "PartNumberMarker", Ns, Text(marker));
            await xml.WriteElementStringAsync(null, "NextPartNumberMarker", Ns, Text(page.Count > 0 ? page[^1].PartNumber : marker));
            await xml.WriteElementStringAsync(null, "MaxParts", Ns, Text(maxParts));
            await xml.WriteElementStringAsync(null, "IsTruncated", Ns, truncated ? "true" : "false");
            foreach (var part in page)
            {
                await xml.WriteStartElementAsync(null, "Part", Ns);
                await xml.WriteElementStringAsync(null, "PartNumber", Ns, Text(part.PartNumber));
                await xml.WriteElementStringAsync(null, "LastModified", Ns, S3Gateway.Timestamp(part.LastModified));
                await xml.WriteElementStringAsync(null, "ETag", Ns, PartETag(part.Md5));
                await xml.WriteElementStringAsync(null, "Size", Ns, part.SizeBytes.ToString(CultureInfo.InvariantCulture));
                await xml.WriteEndElementAsync();
            }
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    private async Task<S3Error?> ListUploadsAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId)
    {
        var query = context.Request.Query;
        var encoding = query["encoding-type"].ToString();
        if (encoding is not ("" or "url"))
        {
            return S3Errors.InvalidArgument("Invalid Encoding Method specified in Request");
        }
        if (query["delimiter"].ToString().Length > 0)
        {
            return S3Errors.NotImplemented("ListMultipartUploads with a delimiter is not available on this endpoint yet.");
        }
        if (Number(query["max-uploads"].ToString(), 1000) is not { } maxUploads)
        {
            return S3Errors.InvalidArgument("Provided max-uploads not an integer or within integer range");
        }
        var (prefix, keyMarker, idMarker) = (query["prefix"].ToString(), query["key-marker"].ToString(), query["upload-id-marker"].ToString());
        var listed = await uploads.ListAsync(identity.Caller, vaultId, context.RequestAborted);
        if (!listed.IsSuccess)
        {
            return Fail(listed.Error!, bucket, "");
        }
        // As AWS: after the key marker, or with the same key after the upload-id marker (which counts only with a key marker).
        var after = listed.Value
            .Where(u => u.Key.StartsWith(prefix, StringComparison.Ordinal))
            .Where(u => keyMarker.Length == 0 || string.CompareOrdinal(u.Key, keyMarker) > 0
                || u.Key == keyMarker && idMarker.Length > 0 && string.CompareOrdinal(u.Id, idMarker) > 0)
            .ToList();
        var page = after.Take(Math.Min(maxUploads, 1000)).ToList();
        var truncated = page.Count < after.Count;
        string E(string s) => encoding == "url" ? Uri.EscapeDataString(s).Replace("%2F", "/", StringComparison.Ordinal) : S3Errors.XmlText(s);
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "ListMultipartUploadsResult", Ns);
            await xml.WriteElementStringAsync(null, "Bucket", Ns, S3Errors.XmlText(bucket.Name));
            await xml.WriteElementStringAsync(null, "KeyMarker", Ns, E(keyMarker));
            await xml.WriteElementStringAsync(null, "UploadIdMarker", Ns, keyMarker.Length == 0 ? "" : S3Errors.XmlText(idMarker));
            await xml.WriteElementStringAsync(null, "NextKeyMarker", Ns, truncated ? E(page[^1].Key) : "");
            await xml.WriteElementStringAsync(null, "NextUploadIdMarker", Ns, truncated ? page[^1].Id : "");
            await xml.WriteElementStringAsync(null, "Prefix", Ns, E(prefix));
            if (encoding.Length > 0)
            {
                await xml.WriteElementStringAsync(null, "EncodingType", Ns, encoding);
            }
            await xml.WriteElementStringAsync(null, "MaxUploads", Ns, Text(maxUploads));
            await xml.WriteElementStringAsync(null, "IsTruncated", Ns, truncated ? "true" : "false");
            foreach (var upload in page)
            {
                await xml.WriteStartElementAsync(null, "Upload", Ns);
                await xml.WriteElementStringAsync(null, "Key", Ns, E(upload.Key));
                await xml.WriteElementStringAsync(null, "UploadId", Ns, upload.Id);
                await WritePrincipalsAsync(xml, identity, upload);
                await xml.WriteElementStringAsync(null, "StorageClass", Ns, "STANDARD");
                await xml.WriteElementStringAsync(null, "Initiated", Ns, S3Gateway.Timestamp(upload.Created));
                await xml.WriteEndElementAsync();
            }
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    /// <summary>The Initiator (the principal that started the upload) and the Owner (its account), as ListParts and ListMultipartUploads name them.</summary>
    private static async Task WritePrincipalsAsync(XmlWriter xml, S3Identity identity, VaultUploadView upload)
    {
        await xml.WriteStartElementAsync(null, "Initiator", Ns);
        await xml.WriteElementStringAsync(null, "ID", Ns, upload.InitiatorId);
        await xml.WriteElementStringAsync(null, "DisplayName", Ns, upload.InitiatorId);
        await xml.WriteEndElementAsync();
        await xml.WriteStartElementAsync(null, "Owner", Ns);
        await xml.WriteElementStringAsync(null, "ID", Ns, identity.Caller.AccountId ?? identity.Caller.PrincipalId);
        await xml.WriteElementStringAsync(null, "DisplayName", Ns, identity.Caller.AccountId ?? identity.Caller.PrincipalId);
        await xml.WriteEndElementAsync();
    }

    /// <summary>The parts a CompleteMultipartUpload body names (PartNumber and ETag of each Part), or null when it is not one.</summary>
    private static List<CompletePart>? PartList(XDocument document)
    {
        if (document.Root is not { Name.LocalName: "CompleteMultipartUpload" } root)
        {
            return null;
        }
        var parts = new List<CompletePart>();
        foreach (var part in root.Elements().Where(e => e.Name.LocalName == "Part"))
        {
            var number = part.Elements().FirstOrDefault(e => e.Name.LocalName == "PartNumber")?.Value.Trim();
            var etag = part.Elements().FirstOrDefault(e => e.Name.LocalName == "ETag")?.Value.Trim().Trim('"');
            if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var partNumber) || etag is null)
            {
                return null;
            }
            parts.Add(new CompletePart(partNumber, etag));
        }
        return parts.Count is 0 or > RecordUploads.MaxParts ? null : parts;
    }

    private static S3Error Fail(Error error, S3Bucket bucket, string uploadId) => error.Code switch
    {
        "upload-not-found" => NoSuchUpload(uploadId),
        "invalid-part" => new S3Error("InvalidPart", 400,
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."),
        "invalid-part-order" => new S3Error("InvalidPartOrder", 400, "The list of parts was not in ascending order. Parts must be ordered by part number."),
        "entity-too-small" => new S3Error("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size."),
        "digest-mismatch" => new S3Error("BadDigest", 400, "The Content-MD5 or checksum you specified did not match what we received."),
        "record-too-large" => TooLarge(),
        "record-corrupt" => S3Errors.Internal() with { Cause = error.Cause },
        _ when error.Kind == ErrorKind.NotFound && error.Detail.StartsWith("Vault", StringComparison.Ordinal) => S3Errors.NoSuchBucket(bucket.Name),
        _ => S3Errors.From(error, () => NoSuchUpload(uploadId)),
    };

    private static S3Error NoSuchUpload(string uploadId) =>
        new("NoSuchUpload", 404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
        {
            Extra = [("UploadId", uploadId)],
        };

    private static S3Error TooLarge() => new("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size.");

    private static string PartETag(string md5) => "\"" + md5 + "\"";

    private static string Text(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static int? Number(string text, int absent) =>
        text.Length == 0 ? absent : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static (string? Hex, S3Error? Error) HexOfBase64(string header, int length, Func<S3Error> invalid)
    {
        if (header.Length == 0)
        {
            return (null, null);
        }
        var bytes = new byte[length];
        return Convert.TryFromBase64String(header, bytes, out var written) && written == length ? (Convert.ToHexStringLower(bytes), null) : (null, invalid());
    }
}
