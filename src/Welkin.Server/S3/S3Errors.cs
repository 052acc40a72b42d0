using System.Xml;
using Welkin.Core.Common;

namespace Welkin.Server.S3;

/// <summary>
/// An S3 error: the code and HTTP status AWS documents for it (Amazon S3 API Reference, "Error
/// responses", docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html) and a message.
/// </summary>
public sealed record S3Error(string Code, int Status, string Message)
{
    /// <summary>Extra elements of the error body (Region, HeadersNotSigned...), by element name.</summary>
    public IReadOnlyList<(string Name, string Value)> Extra { get; init; } = [];

    /// <summary>What really went wrong, for the server log only (as <see cref="Error.Cause"/>).</summary>
    public string? Cause { get; init; }
}

/// <summary>The S3 errors of the S3 face, and the one mapping of Welkin's <see cref="Error"/> values to them.</summary>
public static class S3Errors
{
    public static S3Error AccessDenied(string message = "Access Denied.") => new("AccessDenied", 403, message);

    public static S3Error AnonymousDenied() =>
        new("AccessDenied", 403, "Anonymous requests are not accepted: sign the request with an access key (AWS Signature Version 4).");

    public static S3Error InvalidAccessKeyId() =>
        new("InvalidAccessKeyId", 403, "The access key id you provided does not exist in our records.");

    public static S3Error SignatureDoesNotMatch() =>
        new("SignatureDoesNotMatch", 403,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.");

    public static S3Error RequestTimeTooSkewed(DateTimeOffset requestTime, DateTimeOffset serverTime) =>
        new("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large.")
        {
            Extra = [("RequestTime", requestTime.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture)),
                ("ServerTime", serverTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)),
                ("MaxAllowedSkewMilliseconds", "900000")],
        };

    public static S3Error Expired() => new("AccessDenied", 403, "Request has expired");

    public static S3Error NotYetValid() => new("AccessDenied", 403, "Request is not valid yet");

    public static S3Error HeaderMalformed(string message) =>
        new("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; " + message);

    public static S3Error QueryMalformed(string message) => new("AuthorizationQueryParametersError", 400, message);

    public static S3Error InvalidRequest(string message) => new("InvalidRequest", 400, message);

    public static S3Error InvalidArgument(string message) => new("InvalidArgument", 400, message);

    public static S3Error InvalidUri() => new("InvalidURI", 400, "Couldn't parse the specified URI.");

    public static S3Error MalformedXml() =>
        new("MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema.");

    public static S3Error BodyTooLarge(long max) =>
        new("MaxMessageLengthExceeded", 400, $"Your request was too big: this operation takes at most {max} bytes.");

    public static S3Error ContentSha256Mismatch() =>
        new("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.");

    public static S3Error NoSuchBucket(string bucket) =>
        new("NoSuchBucket", 404, "The specified bucket does not exist.") { Extra = [("BucketName", bucket)] };

    public static S3Error MethodNotAllowed() => new("MethodNotAllowed", 405, "The specified method is not allowed against this resource.");

    public static S3Error NotImplemented(string message) => new("NotImplemented", 501, message);

    public static S3Error Internal() => new("InternalError", 500, "We encountered an internal error. Please try again.");

    public static S3Error SlowDown(string message) => new("SlowDown", 503, message);

    /// <summary>
    /// A Welkin error as an S3 error. <paramref name="notFound"/> is the S3 error of the resource the
    /// operation names (NoSuchBucket, NoSuchKey...), since Welkin's one not-found code does not say which.
    /// </summary>
    public static S3Error From(Error error, Func<S3Error>? notFound = null) => error.Kind switch
    {
        ErrorKind.NotFound => notFound?.Invoke() ?? new S3Error("NoSuchKey", 404, "The specified key does not exist."),
        ErrorKind.Forbidden or ErrorKind.Unauthorized => AccessDenied(error.Detail) with { Cause = error.Cause },
        ErrorKind.Validation => InvalidArgument(error.Detail),
        ErrorKind.Conflict => new S3Error("InvalidRequest", 409, error.Detail),
        ErrorKind.PreconditionFailed => new S3Error("PreconditionFailed", 412, error.Detail),
        ErrorKind.PayloadTooLarge => new S3Error("EntityTooLarge", 400, error.Detail),
        ErrorKind.QuotaExceeded => new S3Error("QuotaExceeded", 403, error.Detail),
        ErrorKind.TooManyRequests or ErrorKind.Unavailable => SlowDown(error.Detail),
        _ => InvalidRequest(error.Detail),
    };

    /// <summary>A key the vault's key rule refuses: S3's KeyTooLongError past 1024 bytes, else InvalidArgument (AWS takes keys the vault does not).</summary>
    public static S3Error BadKey(string key, Error refusal) => System.Text.Encoding.UTF8.GetByteCount(key) > 1024
        ? new S3Error("KeyTooLongError", 400, "Your key is too long.")
        : InvalidArgument(refusal.Detail);

    /// <summary>Writes the error as S3 does: its status, <c>x-amz-request-id</c>, and (but for HEAD) the XML body.</summary>
    public static async Task WriteAsync(HttpContext context, S3Error error, string resource)
    {
        var response = context.Response;
        response.StatusCode = error.Status;
        response.Headers["x-amz-request-id"] = context.TraceIdentifier;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }
        response.ContentType = "application/xml";
        var settings = new XmlWriterSettings { Async = true, Encoding = new System.Text.UTF8Encoding(false) };
        await using var stream = new MemoryStream();
        await using (var xml = XmlWriter.Create(stream, settings))
        {
            await xml.WriteStartDocumentAsync();
            await xml.WriteStartElementAsync(null, "Error", null);
            await xml.WriteElementStringAsync(null, "Code", null, XmlText(error.Code));
            await xml.WriteElementStringAsync(null, "Message", null, XmlText(error.Message));
            foreach (var (name, value) in error.Extra)
            {
                await xml.WriteElementStringAsync(null, name, null, XmlText(value));
            }
            await xml.WriteElementStringAsync(null, "Resource", null, XmlText(resource));
            await xml.WriteElementStringAsync(null, "RequestId", null, context.TraceIdentifier);
            await xml.WriteEndElementAsync();
        }
        response.ContentLength = stream.Length;
        await response.Body.WriteAsync(stream.ToArray(), context.RequestAborted);
    }

    /// <summary>Text XML 1.0 can carry: characters it cannot (control characters, lone surrogates) become U+FFFD.</summary>
    public static string XmlText(string text)
    {
        var builder = new System.Text.StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[++i]);
            }
            else
            {
                builder.Append(XmlConvert.IsXmlChar(c) ? c : '\uFFFD');
            }
        }
        return builder.ToString();
    }
}
