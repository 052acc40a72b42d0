using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Welkin.Server.S3;

/// <summary>What a request says about its own signature, from the Authorization header or the X-Amz-* query parameters.</summary>
public sealed record SigV4Claim(
    string AccessKeyId,
    string Date,
    string Region,
    string Service,
    IReadOnlyList<string> SignedHeaders,
    string Signature,
    DateTimeOffset Time,
    string AmzDate,
    bool Presigned,
    int? ExpiresSeconds)
{
    public string Scope => $"{Date}/{Region}/{Service}/aws4_request";
}

/// <summary>The parts of an HTTP request a Signature Version 4 signature covers, as they arrived.</summary>
/// <param name="RawPath">The request target's path exactly as sent (percent-encoded as the client chose).</param>
/// <param name="RawQuery">The request target's query without '?', as sent.</param>
/// <param name="Header">All values of a header by lower-case name (several joined by ','), null when absent.</param>
public sealed record SigV4Request(string Method, string RawPath, string RawQuery, Func<string, string?> Header, string PayloadHash);

/// <summary>
/// AWS Signature Version 4 as S3 uses it (AWS: "Authenticating Requests (AWS Signature Version 4)",
/// docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html): the canonical request,
/// the string to sign, the signing key and the signature. Pure functions, no I/O.
/// </summary>
public static class SigV4
{
    public const string Algorithm = "AWS4-HMAC-SHA256";
    public const string UnsignedPayload = "UNSIGNED-PAYLOAD";
    public const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// <summary>The canonical request; null when the path or query holds a malformed percent escape.</summary>
    public static string? CanonicalRequest(SigV4Request request, IReadOnlyList<string> signedHeaders, bool presigned)
    {
        var path = CanonicalPath(request.RawPath);
        var query = CanonicalQuery(request.RawQuery, presigned);
        if (path is null || query is null)
        {
            return null;
        }
        var builder = new StringBuilder();
        builder.Append(request.Method).Append('\n').Append(path).Append('\n').Append(query).Append('\n');
        foreach (var name in signedHeaders)
        {
            builder.Append(name).Append(':').Append(CanonicalHeaderValue(request.Header(name) ?? "")).Append('\n');
        }
        builder.Append('\n').Append(string.Join(';', signedHeaders)).Append('\n').Append(request.PayloadHash);
        return builder.ToString();
    }

    public static string StringToSign(string amzDate, string scope, string canonicalRequest) =>
        $"{Algorithm}\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";

    public static byte[] SigningKey(string secret, string date, string region, string service)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8);
    }

    public static string Signature(byte[] signingKey, string stringToSign) =>
        Hex(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign)));

    /// <summary>Whether two lower-case hex signatures are equal, in time independent of where they differ.</summary>
    public static bool SameSignature(string expected, string provided) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(provided));

    /// <summary>
    /// S3's canonical URI: the path decoded once and each byte but the unreserved ones and '/' encoded
    /// again, upper-case hex. Unlike other services S3 neither normalizes the path nor encodes it twice.
    /// </summary>
    public static string? CanonicalPath(string rawPath)
    {
        var decoded = PercentDecode(rawPath);
        return decoded is null ? null : Encode(decoded, keepSlash: true);
    }

    /// <summary>
    /// The canonical query string: every parameter (but the signature of a presigned URL) with its
    /// name and value decoded once and encoded again, sorted by name then value; a parameter without
    /// '=' has an empty value.
    /// </summary>
    public static string? CanonicalQuery(string rawQuery, bool presigned)
    {
        if (rawQuery.Length == 0)
        {
            return "";
        }
        var pairs = new List<(string Name, string Value)>();
        foreach (var part in rawQuery.Split('&'))
        {
            if (part.Length == 0)
            {
                continue;
            }
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var name = PercentDecode(equals < 0 ? part : part[..equals]);
            var value = equals < 0 ? [] : PercentDecode(part[(equals + 1)..]);
            if (name is null || value is null)
            {
                return null;
            }
            var encodedName = Encode(name, keepSlash: false);
            if (presigned && encodedName == "X-Amz-Signature")
            {
                continue;
            }
            pairs.Add((encodedName, Encode(value, keepSlash: false)));
        }
        return string.Join('&', pairs
            .OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Name + "=" + p.Value));
    }

    /// <summary>Trims a header value and collapses runs of spaces to one.</summary>
    public static string CanonicalHeaderValue(string value)
    {
        var builder = new StringBuilder(value.Length);
        var space = false;
        foreach (var c in value.Trim())
        {
            if (c == ' ')
            {
                space = true;
                continue;
            }
            if (space)
            {
                builder.Append(' ');
                space = false;
            }
            builder.Append(c);
        }
        return builder.ToString();
    }

    /// <summary>Percent-decodes to bytes (a '+' stays a '+'); null on a malformed escape.</summary>
    public static byte[]? PercentDecode(string text)
    {
        var bytes = new List<byte>(text.Length);
        var utf8 = Encoding.UTF8.GetBytes(text);
        for (var i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] != (byte)'%')
            {
                bytes.Add(utf8[i]);
                continue;
            }
            if (i + 2 >= utf8.Length || !IsHex(utf8[i + 1]) || !IsHex(utf8[i + 2]))
            {
                return null;
            }
            bytes.Add(byte.Parse(Encoding.ASCII.GetString(utf8, i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            i += 2;
        }
        return [.. bytes];
    }

    /// <summary>The decoded UTF-8 text of a percent-encoded string (invalid UTF-8 becomes U+FFFD); null on a malformed escape.</summary>
    public static string? Unescape(string text) => PercentDecode(text) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    private static string Encode(byte[] bytes, bool keepSlash)
    {
        var builder = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            var c = (char)b;
            if (b < 0x80 && (char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' || (keepSlash && c == '/')))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }
        return builder.ToString();
    }

    private static bool IsHex(byte b) => char.IsAsciiHexDigit((char)b);

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);
}
