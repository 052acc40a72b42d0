using System.Security.Cryptography;
using Welkin.Contracts;
using Welkin.Server.S3;

namespace Welkin.Server.Tests.S3;

/// <summary>Any S3 request, signed by the test with an access key (Authorization header, the payload's SHA-256 signed).</summary>
internal static class S3Requests
{
    /// <summary>
    /// <paramref name="pathAndQuery"/> as sent (already percent-encoded); every <paramref name="headers"/> entry is signed,
    /// and so are host, x-amz-date and x-amz-content-sha256 (<paramref name="contentSha256"/>, or the body's SHA-256).
    /// </summary>
    public static HttpRequestMessage Signed(Uri endpoint, IssuedAccessKey key, string method, string pathAndQuery, byte[]? body = null,
        IEnumerable<(string Name, string Value)>? headers = null, DateTimeOffset? time = null, string? contentSha256 = null)
    {
        var amzDate = HandSigned.AmzDate(time ?? TimeProvider.System.GetUtcNow());
        var payloadHash = contentSha256 ?? SigV4.Hex(SHA256.HashData(body ?? []));
        var signed = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = endpoint.Authority, ["x-amz-content-sha256"] = payloadHash, ["x-amz-date"] = amzDate,
        };
        foreach (var (name, value) in headers ?? [])
        {
            signed[name.ToLowerInvariant()] = value;
        }
        var query = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? pathAndQuery : pathAndQuery[..query];
        var rawQuery = query < 0 ? "" : pathAndQuery[(query + 1)..];
        var names = signed.Keys.Order(StringComparer.Ordinal).ToList();
        var canonical = SigV4.CanonicalRequest(new SigV4Request(method, path, rawQuery, n => signed.GetValueOrDefault(n), payloadHash), names, presigned: false)
            ?? throw new ArgumentException("The path or query is not a valid request target.", nameof(pathAndQuery));
        var scope = $"{amzDate[..8]}/us-east-1/s3/aws4_request";
        var signature = SigV4.Signature(SigV4.SigningKey(key.Secret, amzDate[..8], "us-east-1", "s3"), SigV4.StringToSign(amzDate, scope, canonical));
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(endpoint.AbsoluteUri.TrimEnd('/') + pathAndQuery, UriKind.Absolute));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }
        foreach (var (name, value) in signed.Where(h => h.Key != "host"))
        {
            // Content headers (Content-MD5, Content-Type) belong to the body; HttpClient drops them elsewhere.
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, value).ShouldBeTrue($"the header {name} could not be sent");
            }
        }
        request.Headers.TryAddWithoutValidation("Authorization",
            $"{SigV4.Algorithm} Credential={key.Id}/{scope}, SignedHeaders={string.Join(';', names)}, Signature={signature}");
        return request;
    }
}
