using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Core.Federation;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;
using Welkin.Testing.Xmpp;
using static Welkin.Server.Tests.Federation.FederationClouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>Three clouds and one exchange: they find each other, follow each other's capacity and liveness, and refuse who they cannot trust.</summary>
public sealed class FederationScenarioTests(FederationClouds clouds) : IClassFixture<FederationClouds>
{
    // Bounds on waiting, generous for a loaded machine; none of them is a performance claim.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<PeerView?> PeerAsync(string at, string user) =>
        (await clouds.PeersAsync(at)).Peers.SingleOrDefault(p => p.Address == Address(user));

    private async Task<bool> OnlineAndTrustedAsync(string at, string user) =>
        await PeerAsync(at, user) is { Online: true, Trust: PeerTrustState.Trusted };

    private Task EveryoneSeesEveryoneAsync() =>
        Polling.UntilAsync(async () =>
        {
            foreach (var at in Clouds)
            {
                foreach (var other in Clouds.Where(c => c.User != at.User))
                {
                    if (!await OnlineAndTrustedAsync(at.User, other.User))
                    {
                        return false;
                    }
                }
            }
            return true;
        }, "every cloud lists the other two online and trusted", Patience, Poll);

    [Fact]
    public async Task Clouds_FindEachOther_AndListTheOtherTwoOnlineAndTrustedWithTheirCapacity()
    {
        await EveryoneSeesEveryoneAsync();

        foreach (var at in Clouds)
        {
            var list = await clouds.PeersAsync(at.User);
            list.Federation.ShouldBe("on");
            list.Address.ShouldBe(Address(at.User));
            foreach (var other in Clouds.Where(c => c.User != at.User))
            {
                var peer = list.Peers.Single(p => p.Address == Address(other.User));
                peer.Name.ShouldBe(other.Name);
                peer.Url.ShouldBe(clouds.CloudUrl(other.User).AbsoluteUri);
                peer.LastSeen.ShouldNotBeNull();
                peer.Capacity!.Regions.Single().Jurisdiction.ShouldBe(other.Jurisdiction);
                peer.Capacity.Regions.Single().Region.ShouldBe(other.Region);
                peer.Capacity.Regions.Single().FreeVcpus.ShouldBePositive();
            }
        }
        var byName = await (await clouds.Admin("us").GetAsync("/api/v1/federation/peers/CloudCoC", Ct)).ReadAsync<PeerView>();
        byName.Address.ShouldBe(Address("cc"));
        var events = await (await clouds.Admin("us").GetAsync("/api/v1/events?type=federation.peer.online&limit=1000", Ct)).ReadAsync<Page<EventView>>();
        events.Items.Select(e => e.Target).ShouldContain(Address("de"));
        foreach (var cloud in Clouds)
        {
            clouds.Server(cloud.User).Output.ShouldNotContain(Password);
        }
    }

    [Fact]
    public async Task CapacityChange_AtOneCloud_ReachesItsPeers()
    {
        await EveryoneSeesEveryoneAsync();
        var before = (await PeerAsync("de", "us"))!.Capacity!.Regions.Single().FreeVcpus;
        var host = (await (await clouds.Admin("us").GetAsync("/api/v1/fabric/hosts", Ct)).ReadAsync<List<HostView>>())[0].Name;

        (await clouds.Admin("us").PostAsJsonAsync($"/api/v1/fabric/hosts/{host}/state", new HostStateRequest(true, "maintenance"), Ct)).EnsureSuccessStatusCode();
        try
        {
            await Polling.UntilAsync(async () => (await PeerAsync("de", "us"))?.Capacity?.Regions.Single().FreeVcpus < before,
                "ProviderCo-DE sees ProviderCo-US's smaller capacity", Patience, Poll);
            await Polling.UntilAsync(async () => (await PeerAsync("cc", "us"))?.Capacity?.Regions.Single().FreeVcpus < before,
                "CloudCoC sees ProviderCo-US's smaller capacity", Patience, Poll);
        }
        finally
        {
            (await clouds.Admin("us").PostAsJsonAsync($"/api/v1/fabric/hosts/{host}/state", new HostStateRequest(false), Ct)).EnsureSuccessStatusCode();
        }
        await Polling.UntilAsync(async () => (await PeerAsync("de", "us"))?.Capacity?.Regions.Single().FreeVcpus == before,
            "ProviderCo-DE sees ProviderCo-US's capacity back", Patience, Poll);
    }

    [Fact]
    public async Task KilledCloud_IsMarkedOffline_AndOnlineAgainWhenItComesBack()
    {
        await EveryoneSeesEveryoneAsync();

        await clouds.Server("cc").KillAsync();

        foreach (var at in new[] { "us", "de" })
        {
            await Polling.UntilAsync(async () => await PeerAsync(at, "cc") is { Online: false }, $"{at} marks CloudCoC offline", Patience, Poll);
        }
        var offline = await (await clouds.Admin("de").GetAsync("/api/v1/events?type=federation.peer.offline&limit=1000", Ct)).ReadAsync<Page<EventView>>();
        offline.Items.Select(e => e.Target).ShouldContain(Address("cc"));

        await clouds.StartAsync("cc");

        await EveryoneSeesEveryoneAsync();
    }

    [Fact]
    public async Task CutLink_IsResumedWithWhatWasSentMeanwhile_AndALongerCutMarksThePeersOfflineUntilItHeals()
    {
        await EveryoneSeesEveryoneAsync();
        var before = (await PeerAsync("cc", "us"))!.Capacity!.Regions.Single().FreeVcpus;
        var host = (await (await clouds.Admin("us").GetAsync("/api/v1/fabric/hosts", Ct)).ReadAsync<List<HostView>>())[0].Name;

        // A short cut: CloudCoC's stream to the exchange is severed and stays down while ProviderCo-US publishes a change.
        clouds.Relay.Refusing = true;
        clouds.Relay.Sever();
        (await clouds.Admin("us").PostAsJsonAsync($"/api/v1/fabric/hosts/{host}/state", new HostStateRequest(true, "maintenance"), Ct)).EnsureSuccessStatusCode();
        try
        {
            await Polling.UntilAsync(async () => (await PeerAsync("de", "us"))?.Capacity?.Regions.Single().FreeVcpus < before,
                "ProviderCo-US has published its smaller capacity", Patience, Poll);
            clouds.Relay.Refusing = false;

            await Polling.UntilAsync(() => Task.FromResult(clouds.Server("cc").Output.Contains("Resumed the XMPP session", StringComparison.Ordinal)),
                "CloudCoC resumes its session (XEP-0198)", Patience, Poll);
            await Polling.UntilAsync(async () => (await PeerAsync("cc", "us"))?.Capacity?.Regions.Single().FreeVcpus < before,
                "the presence sent during the cut reaches CloudCoC after the resumption", Patience, Poll);
        }
        finally
        {
            clouds.Relay.Refusing = false;
            (await clouds.Admin("us").PostAsJsonAsync($"/api/v1/fabric/hosts/{host}/state", new HostStateRequest(false), Ct)).EnsureSuccessStatusCode();
        }
        await EveryoneSeesEveryoneAsync();

        // A longer cut: past PeerPingInterval + PeerPingTimeout CloudCoC no longer vouches for its peers, and they lose sight of it.
        clouds.Relay.Refusing = true;
        clouds.Relay.Sever();
        try
        {
            await Polling.UntilAsync(async () => await PeerAsync("cc", "us") is { Online: false } && await PeerAsync("cc", "de") is { Online: false },
                "CloudCoC marks its peers offline while its link is down", Patience, Poll);
            await Polling.UntilAsync(async () => await PeerAsync("us", "cc") is { Online: false },
                "ProviderCo-US marks CloudCoC offline: it answers no ping", Patience, Poll);
        }
        finally
        {
            clouds.Relay.Refusing = false;
        }

        await EveryoneSeesEveryoneAsync();
    }

    [Theory]
    [InlineData("rogue", PeerTrustState.Untrusted)]
    [InlineData("expired", PeerTrustState.Expired)]
    [InlineData("revoked", PeerTrustState.Revoked)]
    [InlineData("mismatch", PeerTrustState.NameMismatch)]
    public async Task Presence_WithACertificateTheFederationCannotTrust_IsRefusedListedAndAudited(string stranger, PeerTrustState expected)
    {
        var certificate = clouds.Strangers[stranger];
        var (client, error) = await XmppClient.ConnectAsync(clouds.Prosody.Options(stranger, Password, "impostor"), Ct);
        client.ShouldNotBeNull(error?.Detail);
        await using (client)
        {
            // Directed presence reaches the cloud without a subscription; sent until it is seen, each with a new sequence.
            await Polling.UntilAsync(async () =>
            {
                await client.SendAsync(Directed(Address("us"), certificate, stranger), Ct);
                return await PeerAsync("us", stranger) is { } peer && peer.Trust == expected;
            }, $"ProviderCo-US refuses {stranger} as {expected}", Patience, TimeSpan.FromMilliseconds(500));
        }

        var refused = (await PeerAsync("us", stranger))!;
        refused.Online.ShouldBeFalse();
        refused.Capacity.ShouldBeNull();
        refused.Reason.ShouldNotBeNullOrWhiteSpace();
        refused.Fingerprint.ShouldBe(CloudPresence.FingerprintOf(certificate.RawData));
        var audit = await (await clouds.Admin("us").GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.ShouldContain(e => e.Action == PeerStore.RefusedAction && e.Target == Address(stranger) && e.Outcome == "denied"
            && e.Detail!.StartsWith(WireNames.Of(expected) + ":", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Presence_FromAStolenAccountWithoutTheCloudsKey_IsRefusedAsBadSignature_AndThePeerStaysTrusted()
    {
        await EveryoneSeesEveryoneAsync();
        using var certificate = clouds.CertificateOf("de");
        var otherKey = clouds.Strangers["mismatch"];
        // The impostor has ProviderCo-DE's XMPP password and its (public) certificate, not its key.
        var (client, error) = await XmppClient.ConnectAsync(clouds.Prosody.Options("de", Password, "impostor"), Ct);
        client.ShouldNotBeNull(error?.Detail);
        await using (client)
        {
            await Polling.UntilAsync(async () =>
            {
                var now = TimeProvider.System.GetUtcNow();
                var forged = new CloudPresence("ProviderCo-DE", clouds.CloudUrl("de"), CloudPresence.FingerprintOf(certificate.RawData), certificate.RawData,
                    now.ToUnixTimeMilliseconds(), now, CloudPresence.Available, new CloudCapacity([], 0));
                await client.SendAsync(new XElement(XName.Get("presence", "jabber:client"), new XAttribute("to", Address("us")), forged.ToSignedXml(otherKey)), Ct);
                var audit = await (await clouds.Admin("us").GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();
                return audit.Items.Any(e => e.Action == PeerStore.RefusedAction && e.Target == Address("de") && e.Detail!.StartsWith("bad-signature:", StringComparison.Ordinal));
            }, "ProviderCo-US refuses the forged presence as bad-signature", Patience, TimeSpan.FromMilliseconds(500));

            // The genuine session is asked to sign again, so the impostor cannot keep the peer refused.
            await Polling.UntilAsync(() => OnlineAndTrustedAsync("us", "de"), "ProviderCo-US trusts ProviderCo-DE again", Patience, Poll);
        }

        // Forged presences sent before the impostor left may still be on their way; each is refused and
        // answered by asking the genuine session again, so the peer ends trusted, with its capacity.
        await Polling.UntilAsync(async () => await PeerAsync("us", "de") is { Online: true, Trust: PeerTrustState.Trusted, Capacity.Regions.Count: > 0 },
            "ProviderCo-US ends up trusting ProviderCo-DE with its capacity", Patience, Poll);
        await EveryoneSeesEveryoneAsync();
        (await PeerAsync("us", "de"))!.Fingerprint.ShouldBe(CloudPresence.FingerprintOf(certificate.RawData));
    }

    [Fact]
    public async Task Flood_OfPresencesFromOneSender_IsDroppedUncheckedBeyondItsBudget_ReportedOnce_AndTheCloudKeepsItsPeers()
    {
        await EveryoneSeesEveryoneAsync();
        var certificate = clouds.Strangers["rogue"];
        var (client, error) = await XmppClient.ConnectAsync(clouds.Prosody.Options("rogue", Password, "flood"), Ct);
        client.ShouldNotBeNull(error?.Detail);
        await using (client)
        {
            // 300 presences: far beyond the budget (20 at once), well under the stream's own flood limit.
            for (var n = 0; n < 300; n++)
            {
                await client.SendAsync(Directed(Address("de"), certificate, "rogue"), Ct);
            }
            // ProviderCo-DE reads its stream in order: once it answers this ping, every presence before it went through its budget.
            (await client.PingAsync(Address("de") + "/welkin", Ct)).ShouldBeNull();
        }

        await Polling.UntilAsync(async () => await PeerAsync("de", "rogue") is { Trust: PeerTrustState.Untrusted },
            "ProviderCo-DE checked the presences within the budget and refused them", Patience, Poll);
        var floods = await FloodEntriesAsync("de");
        var entry = floods.ShouldHaveSingleItem();
        entry.Outcome.ShouldBe("denied");
        entry.Detail.ShouldStartWith("presences beyond 20 at once and 5 a second dropped unchecked");
        CountOf(clouds.Server("de").Output, $"Federation: {Address("rogue")} floods:").ShouldBe(1);
        await EveryoneSeesEveryoneAsync();
        (await FloodEntriesAsync("us")).ShouldBeEmpty();
    }

    private async Task<List<AuditEntryView>> FloodEntriesAsync(string at)
    {
        var audit = await (await clouds.Admin(at).GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();
        return [.. audit.Items.Where(e => e.Action == Welkin.Server.Federation.FederationService.FloodAction && e.Target == Address("rogue"))];
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    private static XElement Directed(string to, X509Certificate2 certificate, string stranger)
    {
        var now = TimeProvider.System.GetUtcNow();
        var presence = new CloudPresence(stranger, UrlOf(stranger), CloudPresence.FingerprintOf(certificate.RawData), certificate.RawData,
            now.ToUnixTimeMilliseconds(), now, CloudPresence.Available, new CloudCapacity([new RegionCapacity("XX", "nowhere", 100_000, 1 << 30, 1 << 20)], 99));
        return new XElement(XName.Get("presence", "jabber:client"), new XAttribute("to", to), presence.ToSignedXml(certificate));
    }
}
