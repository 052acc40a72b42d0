namespace Welkin.Server.Infrastructure;

/// <summary>Server options: section "Welkin", environment WELKIN_*, command line --port, --bind, --data-dir, --fabric, --max-body-bytes, --max-image-bytes, --clock, --clock-start.</summary>
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

    public static readonly Dictionary<string, string> CommandLineSwitches = new(StringComparer.Ordinal)
    {
        ["--port"] = "Welkin:Port",
        ["--bind"] = "Welkin:Bind",
        ["--data-dir"] = "Welkin:DataDir",
        ["--fabric"] = "Welkin:Fabric",
        ["--max-body-bytes"] = "Welkin:MaxRequestBodyBytes",
        ["--max-image-bytes"] = "Welkin:MaxImageBytes",
        ["--clock"] = "Welkin:Clock",
        ["--clock-start"] = "Welkin:ClockStart",
        ["--database"] = "Database:Provider",
        ["--connection-string"] = "Database:ConnectionString",
    };

    public static readonly Dictionary<string, string> EnvironmentVariables = new(StringComparer.Ordinal)
    {
        ["WELKIN_PORT"] = "Welkin:Port",
        ["WELKIN_BIND"] = "Welkin:Bind",
        ["WELKIN_DATA_DIR"] = "Welkin:DataDir",
        ["WELKIN_FABRIC"] = "Welkin:Fabric",
        ["WELKIN_MAX_BODY_BYTES"] = "Welkin:MaxRequestBodyBytes",
        ["WELKIN_MAX_IMAGE_BYTES"] = "Welkin:MaxImageBytes",
        ["WELKIN_CLOCK"] = "Welkin:Clock",
        ["WELKIN_CLOCK_START"] = "Welkin:ClockStart",
        ["WELKIN_DATABASE"] = "Database:Provider",
        ["WELKIN_CONNECTION_STRING"] = "Database:ConnectionString",
    };
}
