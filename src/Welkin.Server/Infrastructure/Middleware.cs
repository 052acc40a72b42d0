using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Welkin.Contracts;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// Gives every request a correlation id (the caller's X-Correlation-Id when well-formed, a new
/// one otherwise), returns it in the response header, puts it in the log scope and logs one
/// line per request. Paths are logged without query strings and headers never are, so
/// credentials cannot reach the log.
/// </summary>
public sealed class CorrelationAndLoggingMiddleware(RequestDelegate next, ILogger<CorrelationAndLoggingMiddleware> logger)
{
    public const string Header = "X-Correlation-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var incoming = context.Request.Headers[Header].ToString();
        var id = IsWellFormed(incoming) ? incoming : Guid.NewGuid().ToString("n");
        context.TraceIdentifier = id;
        context.Response.Headers[Header] = id;
        var started = Stopwatch.GetTimestamp();
        using (logger.BeginScope(new Dictionary<string, object> { ["CorrelationId"] = id }))
        {
            try
            {
                await next(context);
            }
            finally
            {
                var principal = context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name : "-";
                logger.LogInformation("{Method} {Path} -> {Status} in {Elapsed:0.0} ms by {Principal} [{CorrelationId}]",
                    context.Request.Method, context.Request.Path.Value, context.Response.StatusCode,
                    Stopwatch.GetElapsedTime(started).TotalMilliseconds, principal, id);
            }
        }
    }

    private static bool IsWellFormed(string value) =>
        value.Length is > 0 and <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}

/// <summary>Turns exceptions into problem responses: bad input becomes a 4xx, anything else a 500 without internals.</summary>
public sealed class ProblemExceptionHandler(ILogger<ProblemExceptionHandler> logger, IHostEnvironment environment) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var context = httpContext;
        if (context.Response.HasStarted)
        {
            return false;
        }
        var (status, code, detail) = Classify(exception);
        if (status >= 500)
        {
            logger.LogError(exception, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path.Value);
            if (environment.IsDevelopment())
            {
                detail = exception.Message;
            }
        }
        await Problems.WriteAsync(context, status, code, detail);
        return true;
    }

    internal static (int Status, string Code, string Detail) Classify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case JsonException json when json.Message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal):
                    return (400, "unknown-field", $"The body has an {WelkinJson.Describe(json)}.");
                case JsonException json:
                    return (400, "malformed-json", $"The body is not valid for this operation: {WelkinJson.Describe(json)}.");
                case BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status413PayloadTooLarge:
                    return (413, "body-too-large", "The request body is larger than this server accepts.");
                case BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status415UnsupportedMediaType:
                    return (415, "unsupported-media-type", "Send the body as application/json.");
            }
        }
        // Minimal APIs report an empty (or JSON null) body for a body parameter only in the message.
        if (exception is BadHttpRequestException { StatusCode: 400 } missing
            && (missing.Message.Contains("no body was provided", StringComparison.Ordinal) || missing.Message.Contains("was not provided from body", StringComparison.Ordinal)))
        {
            return (400, "missing-body", "This operation needs a JSON body.");
        }
        if (exception is BadHttpRequestException other)
        {
            // The framework's messages name internal parameters; say what the caller can act on.
            return other.Message.Contains("no body was provided", StringComparison.Ordinal)
                ? (400, "missing-body", "This operation needs a JSON body.")
                : (other.StatusCode, "bad-request", "The request could not be read (check the query string, headers and body).");
        }
        return (500, "internal-error", "An internal error occurred; quote the correlation id when reporting it.");
    }

}

/// <summary>
/// Enforces Welkin:MaxRequestBodyBytes (or an endpoint's own <see cref="IRequestSizeLimitMetadata"/>,
/// as image uploads declare) on every host, Kestrel or not: a declared length over the limit is
/// refused before the body is read, and a body without a declared length is cut off once it
/// passes the limit. Either way the answer is 413 <c>body-too-large</c>.
/// </summary>
public sealed class RequestBodyLimitMiddleware(RequestDelegate next, Microsoft.Extensions.Options.IOptionsMonitor<WelkinOptions> options)
{
    private const string ExceededKey = "welkin.body-too-large";

    public async Task InvokeAsync(HttpContext context)
    {
        var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>() is { } declared
            ? declared.MaxRequestBodySize
            : options.CurrentValue.MaxRequestBodyBytes;
        if (limit is not { } max)
        {
            await next(context);
            return;
        }
        if (context.Request.ContentLength > max)
        {
            await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "body-too-large", TooLarge(max));
            return;
        }
        context.Request.Body = new LimitedReadStream(context.Request.Body, max, () => context.Items[ExceededKey] = true);
        await next(context);
        // Minimal APIs treat an I/O error while reading the body as an aborted request and
        // write nothing; answer it properly when the cause was the limit.
        if (context.Items.ContainsKey(ExceededKey) && !context.Response.HasStarted)
        {
            context.Response.Clear();
            await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "body-too-large", TooLarge(max));
        }
    }

    internal static string TooLarge(long max) => $"The request body is larger than this server accepts ({max} bytes).";

    private sealed class LimitedReadStream(Stream inner, long max, Action exceeded) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        private int Count(int n)
        {
            _read += n;
            if (_read > max)
            {
                exceeded();
                throw new BadHttpRequestException(TooLarge(max), StatusCodes.Status413PayloadTooLarge);
            }
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
