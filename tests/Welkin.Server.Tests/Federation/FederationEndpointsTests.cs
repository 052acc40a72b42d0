using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>The peer list of a cloud without a Federation section, and a start refused for a half-configured one.</summary>
public sealed class FederationEndpointsTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Peers_WithFederationOff_AreAnEmptyListSayingOff()
    {
        var list = await (await app.Admin().GetAsync("/api/v1/federation/peers", Ct)).ReadAsync<PeerList>();

        list.Federation.ShouldBe("off");
        list.Address.ShouldBeNull();
        list.Peers.ShouldBeEmpty();
    }

    [Fact]
    public async Task CapacitySummary_OfTheSimulatedPool_IsFreeCapacityPerJurisdictionAndRegionAfterOvercommit()
    {
        var capacity = await app.Services.GetRequiredService<CapacitySummary>().ComputeAsync(Ct);

        // The simulated pool's hosts: two of 32 cores in US/us-east, one of 32 and one of 16 in DE/eu-central; vCPUs overcommitted 4:1.
        capacity.Regions.ShouldBe([
            new RegionCapacity("DE", "eu-central", 48 * 4, 131_072 + 65_536, 4_000 + 2_000),
            new RegionCapacity("US", "us-east", 64 * 4, 2 * 131_072, 2 * 4_000),
        ]);
        capacity.Offerings.ShouldBe(0);
    }

    [Fact]
    public async Task Peer_Unknown_IsNotFound()
    {
        await (await app.Admin().GetAsync("/api/v1/federation/peers/ProviderCo-DE", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Peers_OfAnAccountPrincipal_AreForbidden()
    {
        var (_, client) = await app.SignUpAsync("fedpeer");

        await (await client.GetAsync("/api/v1/federation/peers", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Start_WithAnAddressButNoCertificates_ExitsTwoSayingWhatIsMissing()
    {
        var dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-fed-")).FullName;
        try
        {
            await using var server = ServerCommand.StartServer(dir, Path.Combine(dir, "data"),
                "--Federation:Address=us@xmpp.test", "--Federation:Name=ProviderCo-US", "--Federation:Password=not-to-be-logged");

            (await server.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.Usage);
            server.StandardError.ShouldStartWith("welkin-server: federation: us@xmpp.test is set but Federation:Url, Federation:ExchangeTrust");
            server.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ShouldBe(1);
            server.Output.ShouldNotContain("not-to-be-logged");
        }
        finally
        {
            TempDirectories.TryDelete(dir);
        }
    }

    [Theory]
    [InlineData("--Federation:Address=us@xmpp_test", "Federation:Address 'us@xmpp_test' is not a bare XMPP address (cloud@domain): the domainpart is not a DNS name (label 'xmpp_test')")]
    [InlineData("--Federation:Address=xmpp.test", "Federation:Address 'xmpp.test' is not a bare XMPP address (cloud@domain)")]
    [InlineData("--Federation:Peers:1=de@xmpp.test/welkin", "Federation:Peers:1 'de@xmpp.test/welkin' is not a bare XMPP address (cloud@domain)")]
    [InlineData("--Federation:Peers:1=d e@xmpp.test", "Federation:Peers:1 'd e@xmpp.test' is not a bare XMPP address (cloud@domain): the localpart may not contain U+0020")]
    public async Task Start_WithAnInvalidAddress_ExitsTwoNamingTheEntry(string setting, string message)
    {
        var dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-fed-")).FullName;
        try
        {
            string[] settings =
            [
                "--Federation:Address=us@xmpp.test", "--Federation:Peers:0=de@xmpp.test", "--Federation:Name=ProviderCo-US", "--Federation:Password=not-to-be-logged",
                "--Federation:Url=https://us.cloud.test/api/v1", $"--Federation:ExchangeTrust={Path.Combine(dir, "exchange.pem")}",
                $"--Federation:CaCertificate={Path.Combine(dir, "ca.pem")}", $"--Federation:Crl={Path.Combine(dir, "crl.pem")}",
                $"--Federation:Certificate={Path.Combine(dir, "cloud.pem")}", $"--Federation:CertificateKey={Path.Combine(dir, "cloud.key")}", setting,
            ];
            await using var server = ServerCommand.StartServer(dir, Path.Combine(dir, "data"), settings);

            (await server.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.Usage);
            server.StandardError.ShouldBe($"welkin-server: federation: {message}\n");
            server.Output.ShouldNotContain("not-to-be-logged");
        }
        finally
        {
            TempDirectories.TryDelete(dir);
        }
    }

    [Fact]
    public async Task Start_WithAFileThatIsNotThere_ExitsTwoNamingIt()
    {
        var dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-fed-")).FullName;
        try
        {
                        await using var server = ServerCommand.StartServer(dir, Path.Combine(dir, "data"),
                "--Federation:Address=us@xmpp.test", "--Federation:Name=ProviderCo-US", "--Federation:Password=not-to-be-logged",
                "--Federation:Url=https://us.cloud.test/api/v1", $"--Federation:ExchangeTrust={Path.Combine(dir, "exchange.pem")}",
                $"--Federation:CaCertificate={Path.Combine(dir, "ca.pem")}", $"--Federation:Crl={Path.Combine(dir, "crl.pem")}",
                $"--Federation:Certificate={Path.Combine(dir, "cloud.pem")}", $"--Federation:CertificateKey={Path.Combine(dir, "cloud.key")}");

            (await server.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.Usage);
            server.StandardError.ShouldBe($"welkin-server: federation: the file of Federation:ExchangeTrust, {Path.Combine(dir, "exchange.pem")}, does not exist\n");
            server.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ShouldBe(1);
            server.Output.ShouldNotContain("not-to-be-logged");
            server.Output.ShouldNotContain("listening");
        }
        finally
        {
            TempDirectories.TryDelete(dir);
        }
    }
}
