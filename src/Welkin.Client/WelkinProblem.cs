namespace Welkin.Client;

/// <summary>
/// An RFC 9457 problem as answered by a Welkin server: the HTTP status, the stable machine-readable
/// <see cref="Code"/>, a short <see cref="Title"/>, a human-readable <see cref="Detail"/>, the field
/// errors of a validation failure and the correlation id to quote when reporting the failure.
/// </summary>
/// <param name="Status">The HTTP status code of the response.</param>
/// <param name="Code">
/// The stable problem code (<c>not-found</c>, <c>forbidden</c>, <c>validation-failed</c>, ...). When the
/// response was not a problem document (a proxy's error page, for instance) it is <c>http-STATUS</c>.
/// </param>
/// <param name="Title">A short summary of the problem type.</param>
/// <param name="Detail">What went wrong with this request, when the server said.</param>
/// <param name="Errors">Field name to messages, for validation failures.</param>
/// <param name="CorrelationId">The server's id for this request (response header <c>X-Correlation-Id</c>).</param>
/// <param name="Type">The problem type URI (<c>urn:welkin:problem:CODE</c>).</param>
public sealed record WelkinProblem(
    int Status,
    string Code,
    string Title,
    string? Detail = null,
    IReadOnlyDictionary<string, string[]>? Errors = null,
    string? CorrelationId = null,
    string? Type = null);

/// <summary>
/// Thrown when a Welkin server answers a request with an error status. <see cref="Problem"/> carries
/// the parsed problem document. Transport failures (refused connection, DNS, TLS) are not wrapped:
/// they surface as <see cref="HttpRequestException"/>.
/// </summary>
public sealed class WelkinApiException : Exception
{
    /// <summary>Creates the exception for a problem answered by the server.</summary>
    public WelkinApiException(WelkinProblem problem)
        : base(problem is null ? null : Describe(problem))
    {
        ArgumentNullException.ThrowIfNull(problem);
        Problem = problem;
    }

    /// <summary>The problem the server answered.</summary>
    public WelkinProblem Problem { get; }

    /// <summary>The HTTP status code of the response.</summary>
    public int StatusCode => Problem.Status;

    /// <summary>The stable problem code, for example <c>not-found</c>.</summary>
    public string Code => Problem.Code;

    private static string Describe(WelkinProblem problem) =>
        problem.Detail is { Length: > 0 } detail ? $"{problem.Title}: {detail}" : problem.Title;
}

/// <summary>
/// Thrown when a server answers with a success status but a body this client cannot read: not JSON,
/// or JSON of another shape. It usually means the endpoint is not a Welkin server, or one of an
/// incompatible API version.
/// </summary>
public sealed class WelkinProtocolException : Exception
{
    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public WelkinProtocolException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
