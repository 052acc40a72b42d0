using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Welkin.Core.Audit;
using Welkin.Core.Security;

namespace Welkin.Server.S3;

/// <summary>An authenticated S3 request: who signed it and what it declared about its payload.</summary>
/// <param name="ContentSha256">The payload hash the signature covers: a SHA-256 in hex, UNSIGNED-PAYLOAD or a STREAMING-* value.</param>
/// <param name="SigningKey">The request's derived signing key (date, region, service), for aws-chunked chunk signatures; never logged or stored.</param>
public sealed record S3Identity(Caller Caller, string AccessKeyId, string ContentSha256, SigV4Claim Claim, byte[] SigningKey);

/// <summary>The clock the S3 face checks request times against: the wall clock, as clients sign with it, whatever clock the cloud runs on.</summary>
public sealed record S3Clock(TimeProvider Time);

/// <summary>
/// Verifies AWS Signature Version 4 on S3 requests, in the Authorization header or as a presigned URL
/// (X-Amz-* query parameters), and maps the access key to its principal's <see cref="Caller"/>, so S3
/// operations are authorized by the same roles and tenancy as the API. Refusals are audited as
/// anonymous refusals (summed per window).
/// </summary>
public sealed class S3Authenticator(AccessKeys keys, S3Options options, S3Clock clock, RefusalAudit refusals)
{
    /// <summary>AWS's bound on the difference between a request's time and the server's.</summary>
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(15);

    /// <summary>AWS's longest presigned URL lifetime: seven days.</summary>
    public const int MaxExpiresSeconds = 604_800;

    private static readonly HashSet<string> PayloadValues = new(StringComparer.Ordinal)
    {
        SigV4.UnsignedPayload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    };

    public async Task<(S3Identity? Identity, S3Error? Error)> AuthenticateAsync(HttpContext context)
    {
        var (identity, error, keyId) = await VerifyAsync(context);
        if (error is not null)
        {
            var target = keyId is not null && AccessKeys.IsValidId(keyId) ? "access-key:" + keyId : "access-key:(none or malformed)";
            await refusals.RecordAsync(Caller.Anonymous(context.TraceIdentifier), new AuditEvent("s3.authenticate", target, AuditEvent.Denied, null, error.Code),
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown", CancellationToken.None);
        }
        return (identity, error);
    }

    private async Task<(S3Identity?, S3Error?, string?)> VerifyAsync(HttpContext context)
    {
        var request = context.Request;
        var query = QueryParameters(RawTarget(context).Query);
        var header = request.Headers.Authorization.ToString();
        var presigned = query.ContainsKey("X-Amz-Algorithm") || query.ContainsKey("X-Amz-Credential");
        if (header.Length > 0 && presigned)
        {
            return (null, S3Errors.InvalidArgument(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified"), null);
        }
        if (header.Length == 0 && !presigned)
        {
            return (null, S3Errors.AnonymousDenied(), null);
        }
        if (request.Headers.ContainsKey("x-amz-security-token") || query.ContainsKey("X-Amz-Security-Token"))
        {
            return (null, new S3Error("InvalidToken", 400, "This endpoint issues no session tokens: sign with an access key alone."), null);
        }
        var parsed = presigned ? ParseQuery(query) : ParseHeader(header, request.Headers);
        if (parsed.Error is not null)
        {
            return (null, parsed.Error, parsed.Claim?.AccessKeyId);
        }
        var claim = parsed.Claim!;
        if (CheckScope(claim) is { } scopeError)
        {
            return (null, scopeError, claim.AccessKeyId);
        }
        string payload;
        if (presigned)
        {
            payload = SigV4.UnsignedPayload;
        }
        else
        {
            payload = request.Headers["x-amz-content-sha256"].ToString();
            if (payload.Length == 0)
            {
                return (null, S3Errors.InvalidRequest("Missing required header for this request: x-amz-content-sha256"), claim.AccessKeyId);
            }
            if (!PayloadValues.Contains(payload) && !(payload.Length == 64 && payload.All(char.IsAsciiHexDigitLower)))
            {
                return (null, S3Errors.InvalidArgument(
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value."), claim.AccessKeyId);
            }
            if (request.Headers.Keys.Where(k => k.StartsWith("x-amz-", StringComparison.OrdinalIgnoreCase))
                .Select(k => k.ToLowerInvariant()).Where(k => !claim.SignedHeaders.Contains(k)).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } unsigned)
            {
                return (null, S3Errors.AccessDenied("There were headers present in the request which were not signed") with
                {
                    Extra = [("HeadersNotSigned", string.Join(", ", unsigned))],
                }, claim.AccessKeyId);
            }
        }
        var credential = await keys.ResolveAsync(claim.AccessKeyId, context.TraceIdentifier, context.RequestAborted);
        if (credential is null)
        {
            return (null, S3Errors.InvalidAccessKeyId(), claim.AccessKeyId);
        }
        if (CheckTime(claim) is { } timeError)
        {
            return (null, timeError, claim.AccessKeyId);
        }
        var raw = RawTarget(context);
        var canonical = SigV4.CanonicalRequest(
            new SigV4Request(request.Method, raw.Path, raw.Query, name => HeaderValue(request.Headers, name), payload), claim.SignedHeaders, presigned);
        if (canonical is null)
        {
            return (null, S3Errors.InvalidUri(), claim.AccessKeyId);
        }
        var signingKey = SigV4.SigningKey(credential.Secret, claim.Date, claim.Region, claim.Service);
        var expected = SigV4.Signature(signingKey, SigV4.StringToSign(claim.AmzDate, claim.Scope, canonical));
        if (!SigV4.SameSignature(expected, claim.Signature))
        {
            return (null, S3Errors.SignatureDoesNotMatch(), claim.AccessKeyId);
        }
        return (new S3Identity(credential.Caller, claim.AccessKeyId, payload, claim, signingKey), null, claim.AccessKeyId);
    }

    private S3Error? CheckScope(SigV4Claim claim)
    {
        S3Error Malformed(string message) => claim.Presigned ? S3Errors.QueryMalformed(message) : S3Errors.HeaderMalformed(message);
        if (claim.Date != claim.AmzDate[..8])
        {
            return Malformed("Invalid credential date. Date is not the same as X-Amz-Date.");
        }
        if (claim.Region != options.Region)
        {
            return Malformed($"the region '{claim.Region}' is wrong; expecting '{options.Region}'") with { Extra = [("Region", options.Region)] };
        }
        return claim.Service != "s3" ? Malformed($"incorrect service '{claim.Service}'. This endpoint belongs to 's3'.") : null;
    }

    private S3Error? CheckTime(SigV4Claim claim)
    {
        var now = clock.Time.GetUtcNow();
        if (!claim.Presigned)
        {
            return (now - claim.Time).Duration() > MaxSkew ? S3Errors.RequestTimeTooSkewed(claim.Time, now) : null;
        }
        if (claim.Time - now > MaxSkew)
        {
            return S3Errors.NotYetValid();
        }
        return now > claim.Time.AddSeconds(claim.ExpiresSeconds!.Value) ? S3Errors.Expired() : null;
    }

    private static (SigV4Claim? Claim, S3Error? Error) ParseHeader(string header, IHeaderDictionary headers)
    {
        const string prefix = SigV4.Algorithm + " ";
        if (!header.StartsWith(prefix, StringComparison.Ordinal))
        {
            return (null, S3Errors.InvalidRequest("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."));
        }
        var parts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var component in header[prefix.Length..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = component.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return (null, S3Errors.HeaderMalformed($"the component '{Clip(component)}' is not of the form Key=Value."));
            }
            parts[component[..equals]] = component[(equals + 1)..];
        }
        if (!parts.TryGetValue("Credential", out var credential) || !parts.TryGetValue("SignedHeaders", out var signed) || !parts.TryGetValue("Signature", out var signature))
        {
            return (null, S3Errors.HeaderMalformed("it must name the Credential, the SignedHeaders and the Signature."));
        }
        var amzDate = headers["x-amz-date"].ToString();
        if (amzDate.Length == 0 && DateTimeOffset.TryParseExact(headers.Date.ToString(), "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
        {
            amzDate = date.ToUniversalTime().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        }
        return Claim(credential, signed, signature, amzDate, null, presigned: false);
    }

    private static (SigV4Claim? Claim, S3Error? Error) ParseQuery(IReadOnlyDictionary<string, string> query)
    {
        if (!query.TryGetValue("X-Amz-Algorithm", out var algorithm) || algorithm != SigV4.Algorithm)
        {
            return (null, S3Errors.QueryMalformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
        }
        if (!query.TryGetValue("X-Amz-Credential", out var credential) || !query.TryGetValue("X-Amz-SignedHeaders", out var signed)
            || !query.TryGetValue("X-Amz-Signature", out var signature) || !query.TryGetValue("X-Amz-Date", out var amzDate)
            || !query.TryGetValue("X-Amz-Expires", out var expiresText))
        {
            return (null, S3Errors.QueryMalformed(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."));
        }
        if (!int.TryParse(expiresText, NumberStyles.None, CultureInfo.InvariantCulture, out var expires))
        {
            return (null, S3Errors.QueryMalformed("X-Amz-Expires should be a number"));
        }
        if (expires is < 1 or > MaxExpiresSeconds)
        {
            return (null, S3Errors.QueryMalformed(expires < 1
                ? "X-Amz-Expires must be non-negative"
                : $"X-Amz-Expires must be less than a week (in seconds) that is {MaxExpiresSeconds}"));
        }
        return Claim(credential, signed, signature, amzDate, expires, presigned: true);
    }

    private static (SigV4Claim? Claim, S3Error? Error) Claim(string credential, string signed, string signature, string amzDate, int? expires, bool presigned)
    {
        S3Error Malformed(string message) => presigned ? S3Errors.QueryMalformed(message) : S3Errors.HeaderMalformed(message);
        var scope = credential.Split('/');
        if (scope.Length != 5 || scope[0].Length == 0 || scope[4] != "aws4_request")
        {
            return (null, Malformed("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."));
        }
        if (!DateTimeOffset.TryParseExact(amzDate, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return (null, S3Errors.AccessDenied("AWS authentication requires a valid Date or x-amz-date header"));
        }
        var names = signed.Split(';');
        if (names.Any(n => n.Length == 0 || n.Any(char.IsAsciiLetterUpper)) || !names.Order(StringComparer.Ordinal).SequenceEqual(names)
            || names.Distinct(StringComparer.Ordinal).Count() != names.Length || !names.Contains("host"))
        {
            return (null, Malformed("SignedHeaders must be the sorted, lower-case names of the signed headers, 'host' among them."));
        }
        if (signature.Length != 64 || !signature.All(char.IsAsciiHexDigitLower))
        {
            return (null, Malformed("the Signature must be 64 lower-case hex digits."));
        }
        return (new SigV4Claim(scope[0], scope[1], scope[2], scope[3], names, signature, time, amzDate, presigned, expires), null);
    }

    /// <summary>The request target as the client sent it: its path and query, still percent-encoded.</summary>
    public static (string Path, string Query) RawTarget(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw))
        {
            raw = context.Request.Path.Value + context.Request.QueryString.Value;
        }
        var mark = raw.IndexOf('?', StringComparison.Ordinal);
        return mark < 0 ? (raw, "") : (raw[..mark], raw[(mark + 1)..]);
    }

    /// <summary>The query's parameters decoded, the first of each name.</summary>
    public static IReadOnlyDictionary<string, string> QueryParameters(string rawQuery)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in rawQuery.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var name = SigV4.Unescape(equals < 0 ? part : part[..equals]);
            var value = equals < 0 ? "" : SigV4.Unescape(part[(equals + 1)..]);
            if (name is not null && value is not null)
            {
                result.TryAdd(name, value);
            }
        }
        return result;
    }

    private static string? HeaderValue(IHeaderDictionary headers, string name) =>
        headers.TryGetValue(name, out var values) ? string.Join(',', values.ToArray()) : null;

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
