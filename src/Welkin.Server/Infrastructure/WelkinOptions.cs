namespace Welkin.Server.Infrastructure;

/// <summary>Server options: section "Welkin", environment WELKIN_*, command line (see <see cref="Switches"/>).</summary>
public sealed class WelkinOptions
{
    public int Port { get; set; } = 8080;

    public string Bind { get; set; } = "127.0.0.1";

    public string DataDir { get; set; } = "./data";

    /// <summary>One host pool of this driver ("simulated", "qemu"), named after it; leave it out when Fabric:Pools declares the pools.</summary>
    public string? Fabric { get; set; }

    /// <summary>Largest JSON request body accepted, in bytes.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest image upload accepted, in bytes.</summary>
    public long MaxImageBytes { get; set; } = 64L * 1024 * 1024 * 1024;

    /// <summary>"real" (default) or "virtual": simulation mode, where only POST /api/v1/clock/advance moves time.</summary>
    public string Clock { get; set; } = "real";

    /// <summary>Where the virtual clock starts on its first run (default: today 00:00 UTC); later runs continue where it stopped.</summary>
    public DateTimeOffset? ClockStart { get; set; }

    /// <summary>
    /// The server's command-line switches and environment variables: the one table the parser
    /// (<see cref="ServerCommandLine"/>), the configuration mapping and <c>--help</c> read.
    /// </summary>
    public static IReadOnlyList<ServerSwitch> Switches { get; } =
    [
        new("--port", "Welkin:Port", "WELKIN_PORT", "N", "TCP port to listen on; 0 picks a free one (default 8080)"),
        new("--bind", "Welkin:Bind", "WELKIN_BIND", "ADDRESS", "address to listen on (default 127.0.0.1)"),
        new("--data-dir", "Welkin:DataDir", "WELKIN_DATA_DIR", "DIR", "database, blobs and admin token (default ./data)"),
        new("--fabric", "Welkin:Fabric", "WELKIN_FABRIC", "DRIVER", "one host pool of this driver: simulated (default) or qemu"),
        new("--max-body-bytes", "Welkin:MaxRequestBodyBytes", "WELKIN_MAX_BODY_BYTES", "N", "largest JSON request body (default 1048576)"),
        new("--max-image-bytes", "Welkin:MaxImageBytes", "WELKIN_MAX_IMAGE_BYTES", "N", "largest image upload (default 64 GiB)"),
        new("--clock", "Welkin:Clock", "WELKIN_CLOCK", "real|virtual", "virtual: simulation mode (default real)"),
        new("--clock-start", "Welkin:ClockStart", "WELKIN_CLOCK_START", "TIME", "simulation mode: the virtual clock's first instant"),
        new("--database", "Database:Provider", "WELKIN_DATABASE", "sqlite|postgresql", "the database (default sqlite, in the data directory)"),
        new("--connection-string", "Database:ConnectionString", "WELKIN_CONNECTION_STRING", "CS", "Npgsql connection string for postgresql"),
    ];

    public static readonly IReadOnlyDictionary<string, string> CommandLineSwitches =
        Switches.ToDictionary(s => s.Name, s => s.Key, StringComparer.Ordinal);

    public static readonly IReadOnlyDictionary<string, string> EnvironmentVariables =
        Switches.ToDictionary(s => s.EnvironmentVariable, s => s.Key, StringComparer.Ordinal);
}

/// <summary>A command-line switch (<c>--port 9090</c> or <c>--port=9090</c>), the configuration key it sets and its environment variable.</summary>
public sealed record ServerSwitch(string Name, string Key, string EnvironmentVariable, string Value, string Help);
