using Welkin.Server.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Hosting;

public sealed class ServerCommandLineTests
{
    [Fact]
    public void Parse_SwitchesAndConfigurationKeys_AreAccepted()
    {
        // What the test host passes (host settings, "--Section:Key=value", an empty "--Section="), and what operators type.
        var parsed = ServerCommandLine.Parse(
        [
            "--environment=Testing", "--contentRoot=/srv", "--applicationName=welkin-server", "--Welkin:DataDir=/d", "--Fabric=",
            "--logging:loglevel:default", "Trace", "--port", "0", "--data-dir=/d", "--database", "postgresql",
        ]);

        parsed.ShouldBe(new ServerCommandLine.Parsed(Help: false, Error: null));
    }

    [Theory]
    [InlineData("--prot", "unknown option '--prot' (did you mean --port?)")]
    [InlineData("--Port", "unknown option '--Port' (did you mean --port?)")]
    [InlineData("--verbose", "unknown option '--verbose'")]
    [InlineData("9090", "unexpected argument '9090'")]
    [InlineData("-p", "unexpected argument '-p'")]
    public void Parse_AnythingElse_IsAnErrorNamingIt(string arg, string error)
    {
        ServerCommandLine.Parse([arg, "9090"]).Error.ShouldBe(error);
    }

    [Fact]
    public void Parse_SwitchWithoutItsValue_IsAnError()
    {
        ServerCommandLine.Parse(["--port"]).Error.ShouldBe("option '--port' needs a value");
        ServerCommandLine.Parse(["--data-dir", "--port", "1"]).Error.ShouldBe("option '--data-dir' needs a value");
    }

    [Fact]
    public void Check_Help_PrintsTheHelpAndExitsZero()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        ServerCommandLine.Check(["-h"], output, error).ShouldBe(0);
        output.ToString().ShouldBe(ServerCommandLine.Help());
        error.ToString().ShouldBeEmpty();
        ServerCommandLine.Check(["--port", "1"], output, error).ShouldBeNull();
    }

    [Fact]
    public void Help_ListsEverySwitchEnvironmentVariableAndExitCode()
    {
        var help = ServerCommandLine.Help();

        foreach (var s in WelkinOptions.Switches)
        {
            help.ShouldContain($"  {s.Name} {s.Value}");
            help.ShouldContain($"  {s.EnvironmentVariable}");
        }
        foreach (var (code, meaning) in ServerExitCodes.All)
        {
            help.ShouldContain($"{code} {meaning}");
        }
        help.ShouldContain("audit verify");
        help.ShouldContain("federation ca");
    }

    [Fact]
    public void OperationsGuide_DocumentsEverySwitchEnvironmentVariableAndExitCode()
    {
        var guide = File.ReadAllText(Repository.Path("docs", "operations.md"));

        foreach (var s in WelkinOptions.Switches)
        {
            guide.ShouldContain($"| `{s.Key}` | `{s.EnvironmentVariable}` | `{s.Name}` |");
        }
        foreach (var (code, _) in ServerExitCodes.All)
        {
            guide.ShouldContain($"| {code} |");
        }
    }
}
