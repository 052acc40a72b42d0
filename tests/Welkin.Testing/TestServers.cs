namespace Welkin.Testing;

/// <summary>
/// What every Welkin server a test starts has in common, whether it runs in the test process (the
/// server tests' fixtures) or as a process of its own (the CLI tests): the environment, a fresh
/// data directory and the provider administrator's token in it.
/// </summary>
public static class TestServers
{
    public const string Environment = "Testing";

    public static string NewDataDirectory() => TempDirectories.NewPath("welkin-test-");

    public static string AdminTokenFile(string dataDirectory) => Path.Combine(dataDirectory, "admin.token");

    public static string AdminToken(string dataDirectory) => File.ReadAllText(AdminTokenFile(dataDirectory)).Trim();
}
