using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Cli.Tests;

/// <summary>
/// docs/walkthrough-table1.md promises that its bash blocks, pasted in order, play Table 1 against
/// a server started with the README's command. This runs exactly those blocks, with bash -e, against
/// a real server process with the default (realistic) simulated timing, and the CLI built beside
/// the tests in place of the published one.
/// </summary>
public sealed partial class WalkthroughTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Table1Walkthrough_RunsAsDocumented()
    {
        var doc = await File.ReadAllTextAsync(Repository.Path("docs", "walkthrough-table1.md"), Ct);
        var blocks = BashBlock().Matches(doc).Select(m => m.Groups[1].Value).ToList();
        blocks.Count.ShouldBeGreaterThan(5);
        var script = string.Join("\n", blocks);
        var cli = Path.Combine(AppContext.BaseDirectory, "welkin.dll");
        script.ShouldContain("welkin() { dotnet ~/.local/lib/welkin/welkin.dll \"$@\"; }");
        script = script.Replace("welkin() { dotnet ~/.local/lib/welkin/welkin.dll \"$@\"; }", $"welkin() {{ dotnet '{cli}' \"$@\"; }}", StringComparison.Ordinal);

        await using var server = await ServerProcess.StartAsync(Ct);
        var work = Directory.CreateTempSubdirectory("welkin-walkthrough-");
        try
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("-e");
            start.ArgumentList.Add("-o");
            start.ArgumentList.Add("pipefail");
            start.ArgumentList.Add("-s");
            start.Environment["WELKIN_URL"] = server.Endpoint.ToString().TrimEnd('/');
            start.Environment["WELKIN_DATA"] = server.DataDir;
            start.Environment["WELKIN_CONFIG_DIR"] = work.FullName;
            start.Environment["HOME"] = work.FullName;
            using var bash = Process.Start(start)!;
            var output = new StringBuilder();
            var stdout = PumpAsync(bash.StandardOutput, output);
            var stderr = PumpAsync(bash.StandardError, output);
            await bash.StandardInput.WriteAsync(script);
            bash.StandardInput.Close();
            await bash.WaitForExitAsync(Ct);
            await Task.WhenAll(stdout, stderr);
            var log = output.ToString();

            bash.ExitCode.ShouldBe(0, log + "\n--- server\n" + server.Log);
            // What a reader is told to look for at each step.
            log.ShouldContain("welkin-guest ready");
            log.ShouldContain("machine.deactivated");
            log.ShouldContain("machine.activated");
            log.ShouldContain("business increases");
            log.ShouldContain("the relationship is over");
            log.ShouldContain("account.closed");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        string? line;
        while ((line = await reader.ReadLineAsync(Ct)) is not null)
        {
            lock (into)
            {
                into.AppendLine(line);
            }
        }
    }

    [GeneratedRegex(@"```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();
}
