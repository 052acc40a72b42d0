using System.Text.Json.Serialization;

namespace Welkin.Core.Common;

public enum ErrorKind
{
    Validation,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PreconditionFailed,
    QuotaExceeded,
    TooManyRequests,
    PayloadTooLarge,
    UnsupportedMediaType,

    /// <summary>The resource has no representation in a media type the request's Accept header takes.</summary>
    NotAcceptable,

    /// <summary>The server cannot take the request now (it is busy); the caller may retry after <see cref="Error.RetryAfter"/>.</summary>
    Unavailable,

    /// <summary>The request is well formed but cannot be processed as it stands (e.g. an idempotency key reused with another body).</summary>
    Unprocessable,

    /// <summary>The server found its own stored data damaged (a record's bytes failing their authentication): a fault, never the caller's.</summary>
    Internal,
}

/// <summary>An expected failure: a value, not an exception. Mapped once to RFC 9457 problem details.</summary>
/// <remarks>
/// <see cref="Detail"/> is what callers see (problem bodies, a job's error, a machine's error), so it
/// never carries an exception's text or a host path; those travel in <see cref="Cause"/>.
/// </remarks>
public sealed record Error(string Code, ErrorKind Kind, string Detail)
{
    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }

    /// <summary>Every reason of a refusal that has more than one (a federation agreement's failed terms).</summary>
    public IReadOnlyList<string>? Reasons { get; init; }

    /// <summary>
    /// What really went wrong (a hypervisor's message, an exception's text), for the server log
    /// only: never serialized and never in a problem body.
    /// </summary>
    [JsonIgnore]
    public string? Cause { get; init; }

    public TimeSpan? RetryAfter { get; init; }

    public static Error NotFound(string what, string id) =>
        new("not-found", ErrorKind.NotFound, $"{what} '{id}' does not exist.");

    public static Error Forbidden(string detail) => new("forbidden", ErrorKind.Forbidden, detail);

    public static Error Validation(string field, string message) =>
        new("validation-failed", ErrorKind.Validation, message) { Errors = new Dictionary<string, string[]> { [field] = [message] } };

    public static Error Validation(IReadOnlyDictionary<string, string[]> errors) =>
        new("validation-failed", ErrorKind.Validation, "One or more fields are invalid: " + string.Join(", ", errors.Keys) + ".") { Errors = errors };

    public static Error InvalidState(string detail) => new("invalid-state", ErrorKind.Conflict, detail);

    public static Error Concurrency(string what, string id) =>
        new("concurrency-conflict", ErrorKind.Conflict, $"{what} '{id}' was changed by another request; read it again and retry.");

    public static Error VersionMismatch(string what, string id, long expected, long actual) =>
        new("precondition-failed", ErrorKind.PreconditionFailed, $"{what} '{id}' is at version {actual}, not {expected}.");

    public static Error InvalidId(string id, string kind) =>
        new("invalid-id", ErrorKind.Validation, $"'{Truncate(id)}' is not a valid {kind} id.");

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}

/// <summary>Either a value or an <see cref="Error"/>.</summary>
public readonly struct Result<T>
{
    private readonly T? _value;

    /// <summary>A success; the implicit conversion does the same for every value but an interface.</summary>
    internal Result(T value)
    {
        _value = value;
        Error = null;
    }

    private Result(Error error)
    {
        _value = default;
        Error = error;
    }

    public Error? Error { get; }

    public bool IsSuccess => Error is null;

    public T Value => Error is null ? _value! : throw new InvalidOperationException($"Result is an error: {Error.Code}");

    public static implicit operator Result<T>(T value) => new(value);

    public static implicit operator Result<T>(Error error) => new(error);

    public Result<TOut> Map<TOut>(Func<T, TOut> map) => Error is null ? map(_value!) : Error;
}

/// <summary>Collects field errors during validation.</summary>
public sealed class Validator
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsValid => _errors.Count == 0;

    public Validator Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            list = [];
            _errors[field] = list;
        }
        list.Add(message);
        return this;
    }

    public Validator Require(bool condition, string field, string message)
    {
        if (!condition)
        {
            Add(field, message);
        }
        return this;
    }

    public Error? ToError() =>
        IsValid ? null : Error.Validation(_errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal));
}
