using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary><c>welkin peer</c> against a cloud without federation (the clouds of a federation are in the server's scenario tests).</summary>
[Collection(CloudsCollection.Name)]
public sealed class PeerCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private Task UseAdminAsync() =>
        _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);

    [Fact]
    public async Task PeerList_WithFederationOff_SaysSoInEveryFormat()
    {
        await UseAdminAsync();

        var table = await _cli.OkAsync("peer", "list");
        var json = (await _cli.OkAsync("peer", "list", "--output", "json")).Json<PeerList>();
        var yaml = await _cli.OkAsync("peer", "list", "-o", "yaml");

        table.Out.ShouldBe("Federation is off on this cloud.\n");
        json.Federation.ShouldBe("off");
        json.Peers.ShouldBeEmpty();
        yaml.Out.ShouldContain("federation: off\n");
    }

    [Fact]
    public async Task PeerShow_Unknown_ExitsOneWithNotFound()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("peer", "show", "ProviderCo-DE");

        result.ExitCode.ShouldBe(1);
        result.Err.ShouldStartWith("Error: Not found: Peer 'ProviderCo-DE' does not exist.");
    }

    [Fact]
    public async Task PeerList_OfAnAccountAdmin_IsForbidden()
    {
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("peer"), "--display-name", "P", "--save");

        var result = await _cli.RunAsync("peer", "list");

        result.ExitCode.ShouldBe(1);
        result.Err.ShouldStartWith("Error: Forbidden: Reading the federation's peers needs the operator or provider-admin role.");
    }

    [Fact]
    public async Task PeerFind_WithAPriceButNoCurrency_SaysHowToGiveOne()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("peer", "find", "--vcpus", "4", "--memory", "8GiB", "--jurisdiction", "DE", "--max-price", "0.20/cpu-hour", "--availability", "99.9");

        result.ExitCode.ShouldNotBe(0);
        result.Err.ShouldContain("--max-price needs a currency");
        result.Err.ShouldContain("--currency EUR");
    }

    [Fact]
    public async Task PeerFind_WithFederationOff_ExitsOneSayingSo()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("peer", "find", "--vcpus", "4", "--memory", "8GiB", "--jurisdiction", "DE", "--max-price", "0.20EUR/cpu-hour", "--availability", "99.9");

        result.ExitCode.ShouldBe(1);
        result.Err.ShouldContain("This cloud is not part of a federation");
    }

    [Theory]
    [InlineData("0.20/gib-hour")]
    [InlineData("cheap")]
    [InlineData("0.20EURO/cpu-hour")]
    public async Task PeerFind_WithAPriceThatIsNotPerCpuHour_IsAUsageError(string price)
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("peer", "find", "--max-price", price);

        result.ExitCode.ShouldBe(2);
        result.Err.ShouldContain("is not a price per cpu-hour");
    }

    [Fact]
    public async Task PeerQuery_ReadsTheQueryFile_AndWithFederationOffExitsOneSayingSo()
    {
        await UseAdminAsync();
        var file = Path.Combine(Path.GetTempPath(), $"welkin-query-{Guid.NewGuid():n}.rq");
        await File.WriteAllTextAsync(file, "ASK { ?s ?p ?o }", TestContext.Current.CancellationToken);
        try
        {
            var result = await _cli.RunAsync("peer", "query", "--sparql", file, "--peer", "ProviderCo-DE");
            var missing = await _cli.RunAsync("peer", "query", "--sparql", file + ".missing");

            result.ExitCode.ShouldBe(1);
            result.Err.ShouldContain("This cloud is not part of a federation");
            missing.ExitCode.ShouldNotBe(0);
            missing.Err.ShouldContain("Cannot read");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
