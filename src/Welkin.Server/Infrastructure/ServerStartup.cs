using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Options;
using Welkin.Persistence;

namespace Welkin.Server.Infrastructure;

/// <summary>welkin-server's exit codes; docs/operations.md lists them.</summary>
public static class ServerExitCodes
{
    public const int Failed = 1;
    public const int Usage = 2;
    public const int CannotListen = 3;
    public const int DataDirectory = 4;
    public const int DatabaseUnreachable = 5;
    public const int LeaseHeld = 6;

    public static IReadOnlyList<(int Code, string Meaning)> All { get; } =
    [
        (0, "stopped normally (or --help)"),
        (Failed, "an unexpected error"),
        (Usage, "bad arguments or configuration"),
        (CannotListen, "the port is in use or cannot be bound"),
        (DataDirectory, "the data directory cannot be created or written"),
        (DatabaseUnreachable, "the database cannot be reached"),
        (LeaseHeld, "another server holds the database or data directory"),
    ];
}

/// <summary>A known reason the server cannot start, said in one line for the operator.</summary>
public sealed class StartupException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// The checks a start makes before it changes anything, and the one line and exit code a failed
/// start ends with. Known causes (the port, the data directory, the database, the lease) print no
/// stack trace; the log keeps their exception at debug level.
/// </summary>
public static class ServerStartup
{
    /// <summary>Writes why the server stopped to <paramref name="error"/> in one line and returns the exit code.</summary>
    public static int Report(Exception exception, WebApplication? app, TextWriter error)
    {
        var (code, line) = Describe(exception, app);
        error.WriteLine("welkin-server: " + line);
        var logger = app?.Services.GetService<ILoggerFactory>()?.CreateLogger("Welkin");
        if (code == ServerExitCodes.Failed)
        {
            logger?.LogCritical(exception, "Welkin stopped on an unexpected error");
        }
        else
        {
            logger?.LogDebug(exception, "Welkin could not start: {Reason}", line);
        }
        return code;
    }

    internal static (int Code, string Line) Describe(Exception exception, WebApplication? app)
    {
        switch (exception)
        {
            case StartupException known:
                return (known.ExitCode, known.Message);
            case DatabaseLeaseException lease:
                return lease.Failure switch
                {
                    DatabaseLeaseFailure.Held => (ServerExitCodes.LeaseHeld, lease.Message + "; one server per database until replicas are supported"),
                    DatabaseLeaseFailure.NotWritable => (ServerExitCodes.DataDirectory, lease.Message),
                    _ => (ServerExitCodes.DatabaseUnreachable, lease.Message),
                };
        }
        // Kestrel lost a race for the port after the check of EnsurePortFree; it reports a failed bind as an IOException.
        if (app is not null && Find<IOException>(exception) is { } io && (Find<AddressInUseException>(io) is not null || Find<SocketException>(io) is not null))
        {
            var options = app.Services.GetRequiredService<IOptions<WelkinOptions>>().Value;
            return (ServerExitCodes.CannotListen, Find<AddressInUseException>(io) is not null
                ? InUse(options)
                : $"cannot listen on port {options.Port} on {options.Bind}: {Find<SocketException>(io)!.Message}");
        }
        // Before the host is built, every failure comes from the configuration (a value of the wrong type, a bad pool).
        return app is null
            ? (ServerExitCodes.Usage, $"invalid configuration: {exception.Message}")
            : (ServerExitCodes.Failed, $"failed: {exception.Message}");
    }

    /// <summary>
    /// Fails early, and with one line, when the port is taken: Kestrel would only find out once
    /// the database is migrated, and would log the failure with its stack trace.
    /// </summary>
    public static void EnsurePortFree(WebApplication app, WelkinOptions options)
    {
        if (options.Port == 0 || IsInMemory(app))
        {
            return;
        }
        var address = IPAddress.Parse(options.Bind);
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // As Kestrel binds: a port in TIME_WAIT is free, one with a listener is not.
        probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            probe.Bind(new IPEndPoint(address, options.Port));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new StartupException(ServerExitCodes.CannotListen, InUse(options), e);
        }
        catch (SocketException e)
        {
            throw new StartupException(ServerExitCodes.CannotListen, $"cannot listen on port {options.Port} on {options.Bind}: {e.Message}", e);
        }
    }

    /// <summary>
    /// False when the server runs inside another program (the test host), whose start failures
    /// must reach it as exceptions rather than as an exit code.
    /// </summary>
    public static bool IsOwnProcess => System.Reflection.Assembly.GetEntryAssembly() == typeof(ServerStartup).Assembly;

    /// <summary>True for the test host's in-memory server, which has no port.</summary>
    private static bool IsInMemory(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().GetType().Namespace?.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal) == false;

    public static void CreateDataDirectory(string dataDir)
    {
        try
        {
            Directory.CreateDirectory(dataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException(ServerExitCodes.DataDirectory, $"the data directory {dataDir} cannot be created: {e.Message}", e);
        }
    }

    private static string InUse(WelkinOptions options) => $"port {options.Port} on {options.Bind} is in use; choose another with --port";

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }
        return null;
    }
}
