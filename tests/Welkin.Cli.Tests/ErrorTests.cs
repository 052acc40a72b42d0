using System.Net.Sockets;
using Welkin.Cli.Tests.Infrastructure;

namespace Welkin.Cli.Tests;

[Collection(CloudsCollection.Name)]
public sealed class ErrorTests(TwoClouds clouds) : IDisposable
{
    private const string StackFrame = "   at ";
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private Task UseAdminAsync() =>
        _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);

    [Fact]
    public async Task ApiProblem_PrintsTitleAndDetail_ExitsOneWithoutStackTrace()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("principal", "show", "prn_0000000000000000000000000a");

        result.ExitCode.ShouldBe(1);
        result.Out.ShouldBeEmpty();
        result.Err.ShouldStartWith("Error: Not found: Principal 'prn_0000000000000000000000000a' does not exist.");
        result.Err.ShouldContain("code not-found, correlation id ");
        result.Err.ShouldNotContain(StackFrame);
    }

    [Fact]
    public async Task ValidationProblem_PrintsTheFieldErrors()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("account", "sign-up", "--name", "Not A Valid Name!", "--display-name", "x");

        result.ExitCode.ShouldBe(1);
        result.Err.ShouldStartWith("Error: Invalid request: ");
        result.Err.ShouldContain("\n  accountName: ");
        result.Err.ShouldNotContain(StackFrame);
    }

    [Fact]
    public async Task InvalidId_IsReportedByTheServer()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("account", "show", "not-an-id");

        result.ExitCode.ShouldBe(1);
        result.Err.ShouldStartWith("Error: Invalid id: 'not-an-id' is not a valid account id.");
    }

    [Fact]
    public async Task Forbidden_ForAnAccountAdminReadingTheFabric()
    {
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("forbid"), "--display-name", "F", "--save");

        var result = await _cli.RunAsync("host", "list");

        result.ExitCode.ShouldBe(1);
        result.Err.ShouldStartWith("Error: Forbidden: Reading the fabric needs the operator or provider-admin role.");
    }

    [Fact]
    public async Task UnknownCommand_ExitsTwoWithAHint()
    {
        var result = await _cli.RunAsync("frobnicate");

        result.ExitCode.ShouldBe(2);
        result.Err.ShouldBe("Error: Unrecognized command or argument 'frobnicate'.\nSee 'welkin --help'.\n");
    }

    [Fact]
    public async Task MissingRequiredOption_ExitsTwoNamingIt()
    {
        var result = await _cli.RunAsync("account", "set-limits", "acc_0000000000000000000000000a");

        result.ExitCode.ShouldBe(2);
        result.Err.ShouldContain("--limit");
        result.Err.ShouldContain("See 'welkin account set-limits --help'.");
    }

    [Fact]
    public async Task BadEnumValue_ListsTheAllowedValues()
    {
        var result = await _cli.RunAsync("principal", "create", "--name", "x", "--role", "wizard");

        result.ExitCode.ShouldBe(2);
        result.Err.ShouldContain("'wizard' is not valid for --role: use one of provider-admin, catalog-manager");
    }

    [Fact]
    public async Task Help_PrintsUsageAndExitsZero()
    {
        var root = await _cli.OkAsync("--help");
        var leaf = await _cli.OkAsync("image", "download", "--help");

        root.Out.ShouldContain("Usage:");
        root.Out.ShouldContain("template");
        leaf.Out.ShouldContain("--range <a-b>");
        leaf.Out.ShouldContain("-o, --output <file> (REQUIRED)");
    }

    [Fact]
    public async Task UnreachableEndpoint_ExitsThreeWithAClearMessage()
    {
        var port = ClosedPort();
        await _cli.OkAsync("profile", "add", "gone", "--endpoint", $"http://127.0.0.1:{port}/");

        var result = await _cli.RunAsync("whoami");

        result.ExitCode.ShouldBe(3);
        result.Err.ShouldStartWith($"Error: cannot reach http://127.0.0.1:{port}/: ");
        result.Err.ShouldNotContain(StackFrame);
    }

    [Fact]
    public async Task InvalidSpecFile_IsRejectedLocallyWithItsPath()
    {
        await UseAdminAsync();
        var spec = Path.Combine(_cli.WorkDir, "spec.json");
        await File.WriteAllTextAsync(spec, """{ "name": "web", "virtualSystemz": [] }""", TestContext.Current.CancellationToken);

        var typo = await _cli.RunAsync("template", "create", "--file", spec);
        var missing = await _cli.RunAsync("offering", "create", "--file", Path.Combine(_cli.WorkDir, "absent.json"));

        typo.ExitCode.ShouldBe(2);
        typo.Err.ShouldStartWith($"Error: {spec} is not a valid template spec: ");
        typo.Err.ShouldBe($"Error: {spec} is not a valid template spec: unknown field 'virtualSystemz' (did you mean 'virtualSystems'?).\n");
        missing.ExitCode.ShouldBe(2);
        missing.Err.ShouldStartWith("Error: Cannot read ");
    }

    [Fact]
    public async Task BadRange_IsAUsageError()
    {
        var result = await _cli.RunAsync("image", "download", "img_0000000000000000000000000a", "--output", "x.bin", "--range", "9-3");

        result.ExitCode.ShouldBe(2);
        result.Err.ShouldContain("'9-3' is not a byte range");
    }

    /// <summary>A loopback port nothing listens on: bound once to learn a free one, then released.</summary>
    private static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
