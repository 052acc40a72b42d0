namespace Welkin.Cli.Infrastructure;

/// <summary>Exit codes of the <c>welkin</c> command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The server answered with a problem, or an operation's outcome is a failure (a broken audit chain).</summary>
    public const int ApiProblem = 1;

    /// <summary>The command line, a profile, or a local input file is wrong.</summary>
    public const int Usage = 2;

    /// <summary>The endpoint could not be reached.</summary>
    public const int Connection = 3;

    /// <summary><c>--wait-timeout</c> ran out before the job finished; the job goes on on the server.</summary>
    public const int WaitTimeout = 4;

    public const int Cancelled = 130;
}

/// <summary>A user error found before or without asking the server; printed as one line, never with a stack trace.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.Usage) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
