namespace Welkin.Server.Infrastructure;

/// <summary>Server options: section "Welkin", environment WELKIN_*, command line --port, --bind, --data-dir, --fabric, --max-body-bytes, --max-image-bytes.</summary>
public sealed class WelkinOptions
{
    public int Port { get; set; } = 8080;

    public string Bind { get; set; } = "127.0.0.1";

    public string DataDir { get; set; } = "./data";

    public string Fabric { get; set; } = "simulated";

    /// <summary>Largest JSON request body accepted, in bytes.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest image upload accepted, in bytes.</summary>
    public long MaxImageBytes { get; set; } = 64L * 1024 * 1024 * 1024;

    /// <summary>Allow anyone to sign up through the public catalog (otherwise a provider-admin token is required).</summary>
    public bool OpenSignUp { get; set; } = true;

    public static readonly Dictionary<string, string> CommandLineSwitches = new(StringComparer.Ordinal)
    {
        ["--port"] = "Welkin:Port",
        ["--bind"] = "Welkin:Bind",
        ["--data-dir"] = "Welkin:DataDir",
        ["--fabric"] = "Welkin:Fabric",
        ["--max-body-bytes"] = "Welkin:MaxRequestBodyBytes",
        ["--max-image-bytes"] = "Welkin:MaxImageBytes",
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
        ["WELKIN_DATABASE"] = "Database:Provider",
        ["WELKIN_CONNECTION_STRING"] = "Database:ConnectionString",
    };
}
