using System.Globalization;

namespace Welkin.Testing;

/// <summary>
/// What every Welkin server a test starts has in common, whether it runs in the test process (the
/// server tests' fixtures) or as a process of its own (the CLI tests): the environment, the settings
/// that keep tests fast, a fresh data directory and the provider administrator's token in it.
/// </summary>
public static class TestServers
{
    /// <summary>The host environment of test servers; only there may passwords be hashed below the production floor.</summary>
    public const string Environment = "Testing";

    /// <summary>
    /// PBKDF2 iterations for passwords hashed in tests. The production count (600,000) costs a
    /// noticeable fraction of a second per hash or login; one server test (PasswordIterationsTests)
    /// pins it.
    /// </summary>
    public const int PasswordIterations = 1_000;

    /// <summary>Sign-ups and logins allowed per client address and minute (CredentialRateLimitTests sets a small one).</summary>
    public const int CredentialRequestLimit = 1_000_000;

    /// <summary>Settings ("Section:Key" → value) every test server starts with; a fixture's own settings come after them.</summary>
    public static IReadOnlyDictionary<string, string> Settings { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Security:PasswordIterations"] = PasswordIterations.ToString(CultureInfo.InvariantCulture),
        // Tests sign up and log in far more often from one address than the production default allows.
        ["Security:CredentialRequestLimit"] = CredentialRequestLimit.ToString(CultureInfo.InvariantCulture),
    };

    public static string NewDataDirectory() => TempDirectories.NewPath("welkin-test-");

    public static string AdminTokenFile(string dataDirectory) => Path.Combine(dataDirectory, "admin.token");

    public static string AdminToken(string dataDirectory) => File.ReadAllText(AdminTokenFile(dataDirectory)).Trim();
}
