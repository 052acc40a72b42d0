using System.Text.Json;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Cli.Tests.Infrastructure;

public sealed record CliResult(int ExitCode, string Out, string Err)
{
    public T Json<T>() => JsonSerializer.Deserialize<T>(Out, WelkinJson.Client)
        ?? throw new InvalidOperationException("stdout held JSON null");

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>
/// Runs the <c>welkin</c> command in-process, as one user with their own configuration directory,
/// capturing stdout and stderr.
/// </summary>
public sealed class CliRunner : IDisposable
{
    public CliRunner()
    {
        Directory.CreateDirectory(WorkDir);
    }

    /// <summary>A scratch directory for the test's own files (specs, tokens, images).</summary>
    public string WorkDir { get; } = TempDirectories.NewPath("welkin-cli-test-");

    /// <summary>WELKIN_CONFIG_DIR; the CLI creates it.</summary>
    public string ConfigDir => Path.Combine(WorkDir, "config");

    public string ProfilesFile => Path.Combine(ConfigDir, "profiles.json");

    /// <summary>Extra environment variables (WELKIN_PROFILE, ...).</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    public Task<CliResult> RunAsync(params string[] args) => RunWithInputAsync("", args);

    public async Task<CliResult> RunWithInputAsync(string stdin, params string[] args)
    {
        using var stderr = new StringWriter();
        return await RunAsync(stderr, stdin, args, TestContext.Current.CancellationToken);
    }

    /// <summary>Runs with a given standard error (to watch progress as it comes) and cancellation (Ctrl+C).</summary>
    public async Task<CliResult> RunAsync(StringWriter stderr, string stdin, string[] args, CancellationToken ct)
    {
        using var stdout = new StringWriter();
        var environment = new Dictionary<string, string>(Environment, StringComparer.Ordinal)
        {
            ["WELKIN_CONFIG_DIR"] = ConfigDir,
            ["HOME"] = WorkDir,
        };
        var context = new CliContext { Out = stdout, Err = stderr, In = new StringReader(stdin), Environment = environment };
        var exitCode = await CliApp.RunAsync(args, context, ct);
        return new CliResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs and asserts success, returning the result.</summary>
    public async Task<CliResult> OkAsync(params string[] args)
    {
        var result = await RunAsync(args);
        result.ExitCode.ShouldBe(0, result.ToString());
        return result;
    }

    public void Dispose() => TempDirectories.TryDelete(WorkDir);
}
