using System.Globalization;
using Welkin.Server.S3;

namespace Welkin.Server.Tests.S3;

/// <summary>Requests signed by the test itself, for what a real client will not send: a skewed clock, a wrong region, an expired URL.</summary>
internal static class HandSigned
{
    public static string AmzDate(DateTimeOffset t) => t.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A GET with the signature in the Authorization header, signed at <paramref name="time"/>.</summary>
    public static HttpRequestMessage Get(Uri endpoint, string path, string keyId, string secret, DateTimeOffset time, string region = "us-east-1")
    {
        var amzDate = AmzDate(time);
        var date = amzDate[..8];
        var headers = new Dictionary<string, string>
        {
            ["host"] = endpoint.Authority, ["x-amz-content-sha256"] = SigV4.EmptySha256, ["x-amz-date"] = amzDate,
        };
        var names = headers.Keys.Order(StringComparer.Ordinal).ToList();
        var canonical = SigV4.CanonicalRequest(new SigV4Request("GET", path, "", n => headers.GetValueOrDefault(n), SigV4.EmptySha256), names, presigned: false)!;
        var scope = $"{date}/{region}/s3/aws4_request";
        var signature = SigV4.Signature(SigV4.SigningKey(secret, date, region, "s3"), SigV4.StringToSign(amzDate, scope, canonical));
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint, path));
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", SigV4.EmptySha256);
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"{SigV4.Algorithm} Credential={keyId}/{scope}, SignedHeaders={string.Join(';', names)}, Signature={signature}");
        return request;
    }

    /// <summary>A presigned GET URL (path and query) made at <paramref name="time"/>, valid for <paramref name="expires"/> seconds.</summary>
    public static string Presign(Uri endpoint, string path, string keyId, string secret, DateTimeOffset time, int expires)
    {
        var amzDate = AmzDate(time);
        var date = amzDate[..8];
        var scope = $"{date}/us-east-1/s3/aws4_request";
        var query = $"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={Uri.EscapeDataString(keyId + "/" + scope)}&X-Amz-Date={amzDate}"
            + $"&X-Amz-Expires={expires.ToString(CultureInfo.InvariantCulture)}&X-Amz-SignedHeaders=host";
        var headers = new Dictionary<string, string> { ["host"] = endpoint.Authority };
        var canonical = SigV4.CanonicalRequest(new SigV4Request("GET", path, query, n => headers.GetValueOrDefault(n), SigV4.UnsignedPayload), ["host"], presigned: true)!;
        var signature = SigV4.Signature(SigV4.SigningKey(secret, date, "us-east-1", "s3"), SigV4.StringToSign(amzDate, scope, canonical));
        return $"{path}?{query}&X-Amz-Signature={signature}";
    }

    /// <summary>A request signed now in the Authorization header, its body's SHA-256 signed, with <paramref name="headers"/> (signed too).</summary>
    public static HttpRequestMessage Request(Uri endpoint, string method, string path, string query, string keyId, string secret,
        byte[]? body = null, Dictionary<string, string>? headers = null)
    {
        var amzDate = AmzDate(TimeProvider.System.GetUtcNow());
        var date = amzDate[..8];
        var payload = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body ?? []));
        var signed = new Dictionary<string, string>(headers ?? [], StringComparer.Ordinal)
        {
            ["host"] = endpoint.Authority, ["x-amz-content-sha256"] = payload, ["x-amz-date"] = amzDate,
        };
        var names = signed.Keys.Order(StringComparer.Ordinal).ToList();
        var canonical = SigV4.CanonicalRequest(new SigV4Request(method, path, query, n => signed.GetValueOrDefault(n), payload), names, presigned: false)!;
        var scope = $"{date}/us-east-1/s3/aws4_request";
        var signature = SigV4.Signature(SigV4.SigningKey(secret, date, "us-east-1", "s3"), SigV4.StringToSign(amzDate, scope, canonical));
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(endpoint, path + (query.Length > 0 ? "?" + query : "")));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }
        foreach (var (name, value) in signed.Where(h => h.Key != "host"))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        request.Headers.TryAddWithoutValidation("Authorization",
            $"{SigV4.Algorithm} Credential={keyId}/{scope}, SignedHeaders={string.Join(';', names)}, Signature={signature}");
        return request;
    }
}
