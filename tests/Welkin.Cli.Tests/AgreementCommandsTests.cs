using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>
/// <c>welkin agreement</c> against a cloud without federation: the policy, the (empty) list, and what a
/// request without a peer answers. Agreements between clouds are in the server's federation tests.
/// </summary>
[Collection(CloudsCollection.Name)]
public sealed class AgreementCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private Task UseAdminAsync() =>
        _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.B.Endpoint.AbsoluteUri, "--token-file", clouds.B.AdminTokenFile);

    [Fact]
    public async Task PolicySet_ChangesWhatItNames_AndKeepsTheRest()
    {
        await UseAdminAsync();
        var before = (await _cli.OkAsync("agreement", "policy", "show", "--output", "json")).Json<FederationPolicy>();

        await _cli.OkAsync("agreement", "policy", "set", "--peer", "ProviderCo-US", "--jurisdiction", "DE", "--max-units", "compute-unit=8",
            "--max-units", "storage-unit=4", "--reserve", "20");
        var after = (await _cli.OkAsync("agreement", "policy", "show", "--output", "json")).Json<FederationPolicy>();
        var table = await _cli.OkAsync("agreement", "policy", "show");

        after.Peers.ShouldBe(["ProviderCo-US"]);
        after.Jurisdictions.ShouldBe(["DE"]);
        after.MaxUnits.ShouldBe(new Dictionary<string, long> { ["compute-unit"] = 8, ["storage-unit"] = 4 });
        after.CapacityReservePercent.ShouldBe(20m);
        after.Isolation.ShouldBe(before.Isolation);
        after.Version.ShouldBeGreaterThan(before.Version);
        table.Out.ShouldContain("ProviderCo-US");
        table.Out.ShouldContain("20%");
    }

    [Fact]
    public async Task List_WithoutAgreements_SaysSo()
    {
        await UseAdminAsync();

        (await _cli.OkAsync("agreement", "list")).Out.ShouldBe("No agreements.\n");
    }

    [Fact]
    public async Task Request_OnACloudWithoutFederation_ExitsOneWithTheServersReason()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("agreement", "request", "--peer", "ProviderCo-DE", "--jurisdiction", "DE", "--unit", "compute-unit=2",
            "--offering", "off_01h00000000000000000000000", "--quantity", "1", "--currency", "EUR", "--max-price", "0.20/cpu-hour", "--availability", "99.9");

        result.ExitCode.ShouldBe(1);
        result.Err.ShouldStartWith("Error: Invalid state change: Federation is off on this cloud: there is no peer to ask.");
    }

    [Theory]
    [InlineData("--max-price", "cheap", "'cheap' is not a price per vCPU-hour")]
    [InlineData("--unit", "compute-unit", "'compute-unit' is not unit=n")]
    public async Task Request_WithBadTerms_IsRefusedBeforeAnythingIsSent(string option, string value, string message)
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("agreement", "request", "--peer", "ProviderCo-DE", "--jurisdiction", "DE", "--currency", "EUR", option, value);

        result.ExitCode.ShouldNotBe(0);
        result.Err.ShouldContain(message);
    }

    [Fact]
    public async Task Request_WithoutACurrency_SaysWhichOptionIsMissing()
    {
        await UseAdminAsync();

        var result = await _cli.RunAsync("agreement", "request", "--peer", "ProviderCo-DE", "--jurisdiction", "DE");

        result.ExitCode.ShouldNotBe(0);
        result.Err.ShouldContain("--currency");
    }
}
