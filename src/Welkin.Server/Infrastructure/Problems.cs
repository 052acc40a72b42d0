using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Common;

namespace Welkin.Server.Infrastructure;

/// <summary>The one mapping of <see cref="Error"/> to RFC 9457 problem details, with a stable machine-readable <c>code</c>.</summary>
public static class Problems
{
    public const string TypePrefix = "urn:welkin:problem:";

    public static int Status(ErrorKind kind) => kind switch
    {
        ErrorKind.Validation => StatusCodes.Status400BadRequest,
        ErrorKind.Unauthorized => StatusCodes.Status401Unauthorized,
        ErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        ErrorKind.NotFound => StatusCodes.Status404NotFound,
        ErrorKind.Conflict => StatusCodes.Status409Conflict,
        ErrorKind.QuotaExceeded => StatusCodes.Status409Conflict,
        ErrorKind.PreconditionFailed => StatusCodes.Status412PreconditionFailed,
        ErrorKind.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorKind.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        ErrorKind.NotAcceptable => StatusCodes.Status406NotAcceptable,
        ErrorKind.TooManyRequests => StatusCodes.Status429TooManyRequests,
        ErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        ErrorKind.Unprocessable => StatusCodes.Status422UnprocessableEntity,
        ErrorKind.Internal => StatusCodes.Status500InternalServerError,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static string Title(string code) => code switch
    {
        "not-found" => "Not found",
        "forbidden" => "Forbidden",
        "unauthenticated" => "Authentication required",
        "invalid-credentials" => "Invalid credentials",
        "validation-failed" => "Invalid request",
        "invalid-id" => "Invalid id",
        "malformed-json" => "Malformed JSON",
        "missing-body" => "Missing body",
        "bad-request" => "Bad request",
        "unknown-field" => "Unknown field",
        "body-too-large" => "Request body too large",
        "unsupported-media-type" => "Unsupported media type",
        "not-acceptable" => "Not acceptable",
        "digest-mismatch" => "Digest mismatch",
        "concurrency-conflict" => "Concurrent change",
        "precondition-failed" => "Version mismatch",
        "name-taken" => "Name already taken",
        "invalid-state" => "Invalid state change",
        "too-many-attempts" => "Too many attempts",
        "too-many-requests" => "Too many requests",
        "server-busy" => "Server busy",
        "quota-exceeded" => "Limit exceeded",
        "not-simulated" => "Not in simulation mode",
        "limit-below-usage" => "Limit below usage",
        "limit-above-ceiling" => "Limit above the ceiling",
        "sign-up-closed" => "Sign-up closed",
        "account-pending" => "Account awaiting approval",
        "account-refused" => "Account refused",
        "method-not-allowed" => "Method not allowed",
        "idempotency-key-in-progress" => "Request in progress",
        "idempotency-key-reused" => "Idempotency key reused",
        "internal-error" => "Internal error",
        _ => JsonNamingPolicy.KebabCaseLower.ConvertName(code).Replace('-', ' '),
    };

    /// <summary>
    /// The problem for <paramref name="error"/>: its code, kind and detail, never its
    /// <see cref="Error.Cause"/>, which is logged with the request's correlation id instead.
    /// </summary>
    public static ProblemHttpResult From(Error error, HttpContext? context = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.Cause is { } cause && context?.RequestServices?.GetService<ILoggerFactory>() is { } logs)
        {
            logs.CreateLogger(typeof(Problems).FullName!).LogWarning("Request {CorrelationId} answered {Code}: {Cause}", context.TraceIdentifier, error.Code, cause);
        }
        var extensions = new Dictionary<string, object?> { ["code"] = error.Code };
        if (error.Errors is not null)
        {
            extensions["errors"] = error.Errors;
        }
        if (error.Reasons is not null)
        {
            extensions["reasons"] = error.Reasons;
        }
        if (context is not null)
        {
            extensions["correlationId"] = context.TraceIdentifier;
            if (error.RetryAfter is { } wait)
            {
                context.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return TypedResults.Problem(error.Detail, statusCode: Status(error.Kind), title: Title(error.Code), type: TypePrefix + error.Code, extensions: extensions);
    }

    /// <summary>Writes a problem outside the endpoint pipeline (middleware, exception handler, status pages).</summary>
    public static Task WriteAsync(HttpContext context, int status, string code, string detail)
    {
        var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = status,
            Title = Title(code),
            Detail = detail,
            Type = TypePrefix + code,
        };
        problem.Extensions["code"] = code;
        problem.Extensions["correlationId"] = context.TraceIdentifier;
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(problem, (JsonSerializerOptions?)null, "application/problem+json");
    }
}

public static class ResultHttpExtensions
{
    public static Results<Ok<T>, ProblemHttpResult> ToOk<T>(this Result<T> result, HttpContext context) =>
        result.IsSuccess ? TypedResults.Ok(result.Value) : Problems.From(result.Error!, context);

    public static Results<Created<T>, ProblemHttpResult> ToCreated<T>(this Result<T> result, HttpContext context, Func<T, string> location) =>
        result.IsSuccess ? TypedResults.Created(location(result.Value), result.Value) : Problems.From(result.Error!, context);

    /// <summary>202 with the job to poll in <c>Location</c> (CIMI: actions answer with a Job).</summary>
    public static Results<Accepted<AcceptedView<T>>, ProblemHttpResult> ToAccepted<T>(this Result<AcceptedView<T>> result, HttpContext context) =>
        result.IsSuccess ? TypedResults.Accepted($"/api/v1/jobs/{result.Value.Job.Id}", result.Value) : Problems.From(result.Error!, context);
}
