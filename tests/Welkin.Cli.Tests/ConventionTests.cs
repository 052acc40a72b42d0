using System.CommandLine;
using System.Text.RegularExpressions;
using Welkin.Cli.Tests.Infrastructure;

namespace Welkin.Cli.Tests;

/// <summary>What a user sees without a server: help, usage errors, did-you-mean and shell completion.</summary>
public sealed partial class ConventionTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task HelpAndBadValues_OfEveryOption_NeverNameADotNetType()
    {
        var leaks = new List<string>();
        foreach (var (path, command) in Commands(CliApp.Tree(), []))
        {
            var help = await _cli.RunAsync([.. path, "--help"]);
            Check(leaks, [.. path, "--help"], help);
            foreach (var option in command.Options.Where(o => o.Name is not "--help" and not "--version"))
            {
                var bad = await _cli.RunAsync([.. path, option.Name, "not-a-value!"]);
                Check(leaks, [.. path, option.Name, "not-a-value!"], bad);
            }
        }

        leaks.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("usage", "show", "--from")]
    [InlineData("usage", "reconcile", "--to")]
    [InlineData("contract", "report", "--from")]
    [InlineData("event", "list", "--since")]
    [InlineData("instance", "measurements", "--to")]
    public async Task TimeOptions_RefuseABadTime_WithTheSameMessage(string group, string command, string option)
    {
        var result = await _cli.RunAsync(group, command, "x", option, "soon");

        result.ExitCode.ShouldBe(2, result.ToString());
        result.Err.ShouldContain($"'soon' is not a time ({option}): use an ISO 8601 time or date (2026-12-01T08:00:00Z, 2026-12-01), an age (30m, 2h, 2d, 1w), now, today or yesterday.");
    }

    [Fact]
    public async Task MistypedCommand_SuggestsTheNearest_AndExitsTwo()
    {
        var top = await _cli.RunAsync("acount", "list");
        var sub = await _cli.RunAsync("account", "lst");

        top.ExitCode.ShouldBe(2);
        top.Err.ShouldStartWith("Error: Unrecognized command or argument 'acount' (did you mean 'account'?).\n");
        sub.ExitCode.ShouldBe(2);
        sub.Err.ShouldContain("Error: Unrecognized command or argument 'lst' (did you mean 'list'?).");
        sub.Err.ShouldContain("See 'welkin account --help'.");
    }

    [Fact]
    public async Task MistypedOption_SuggestsTheNearest_AndExitsTwo()
    {
        var result = await _cli.RunAsync("account", "list", "--limt", "5");

        result.ExitCode.ShouldBe(2);
        result.Err.ShouldContain("Error: Unrecognized command or argument '--limt' (did you mean '--limit'?).");
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _welkin_complete welkin")]
    [InlineData("zsh", "compdef _welkin welkin")]
    public async Task Completion_PrintsAScriptThatAsksTheSuggestDirective(string shell, string registration)
    {
        var result = await _cli.OkAsync("completion", shell);

        result.Out.ShouldContain(registration);
        result.Out.ShouldContain("\"[suggest:${#line}]\" \"$line\"");
    }

    [Fact]
    public async Task SuggestDirective_CompletesCommandsOptionsAndValues()
    {
        var commands = await _cli.OkAsync("[suggest:4]", "acco");
        var subcommands = await _cli.OkAsync("[suggest:11]", "account lis");
        var formats = await _cli.OkAsync("[suggest]", "account list -o ");
        var wholeLine = await _cli.OkAsync("[suggest:11]", "welkin temp");

        Lines(commands).ShouldBe(["account", "account-image"]);
        Lines(subcommands).ShouldBe(["list"]);
        Lines(formats).ShouldBe(["json", "table", "value", "yaml"], ignoreOrder: true);
        Lines(wholeLine).ShouldBe(["template"]);
    }

    [Fact]
    public async Task BashCompletion_CallsTheProgramForTheWordUnderTheCursor()
    {
        var program = Path.Combine(_cli.WorkDir, "welkin");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        await File.WriteAllTextAsync(program, $"#!/bin/sh\nexec '{dotnet}' '{Path.Combine(AppContext.BaseDirectory, "welkin.dll")}' \"$@\"\n", TestContext.Current.CancellationToken);
        File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var script = Path.Combine(_cli.WorkDir, "welkin.bash");
        await File.WriteAllTextAsync(script, (await _cli.OkAsync("completion", "bash")).Out, TestContext.Current.CancellationToken);

        var start = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"source '{script}'; COMP_LINE='{program} account sh'; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=('{program}' account sh); COMP_CWORD=2; _welkin_complete; printf '%s\\n' \"${{COMPREPLY[@]}}\"");
        using var bash = System.Diagnostics.Process.Start(start)!;
        var output = await bash.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await bash.WaitForExitAsync(TestContext.Current.CancellationToken);

        bash.ExitCode.ShouldBe(0, await bash.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken));
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).ShouldBe(["show"]);
    }

    private static string[] Lines(CliResult result) => result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static IEnumerable<(string[] Path, Command Command)> Commands(Command command, string[] path)
    {
        yield return (path, command);
        foreach (var sub in command.Subcommands)
        {
            foreach (var found in Commands(sub, [.. path, sub.Name]))
            {
                yield return found;
            }
        }
    }

    private static void Check(List<string> leaks, string[] args, CliResult result)
    {
        foreach (Match match in TypeName().Matches(result.Out + result.Err))
        {
            leaks.Add($"welkin {string.Join(' ', args)}: {match.Value}");
        }
    }

    // A host path (the tests' own directory) is not a type name.
    [GeneratedRegex(@"(?<!/)\b(System|Welkin|Microsoft)\.[A-Z]\w*|\b(Int16|Int32|Int64|Boolean|Decimal|Double|Single|DateTimeOffset|DateTime|TimeSpan|FileInfo|DirectoryInfo|Nullable|Guid)\b")]
    private static partial Regex TypeName();
}
