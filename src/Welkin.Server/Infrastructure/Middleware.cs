using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

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
                    return (400, "unknown-field", $"The body has a member this operation does not accept{Where(json)}.");
                case JsonException json:
                    return (400, "malformed-json", $"The body is not valid for this operation{Where(json)}.");
                case BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status413PayloadTooLarge:
                    return (413, "body-too-large", "The request body is larger than this server accepts.");
                case BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status415UnsupportedMediaType:
                    return (415, "unsupported-media-type", "Send the body as application/json.");
            }
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

    private static string Where(JsonException e) => e.Path is { Length: > 0 } path ? $" (at {path})" : "";

}
