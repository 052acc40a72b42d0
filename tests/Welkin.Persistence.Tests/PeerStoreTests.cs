using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

public sealed class PeerStoreTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    private const string Beta = "beta@exchange.example";
    private static readonly CloudCapacity Capacity = new([new RegionCapacity("DE", "eu-central", 32, 65536, 1024)], 2);

    private static PeerObservation Trusted(long sequence) =>
        new(Beta, PeerTrustState.Trusted, "issued by the federation CA, valid, not revoked, names bound", "beta", "https://beta.example/api/v1", "ab12", sequence, Capacity);

    private static (PeerStore Peers, EventLog Events) Open(TestStore store)
    {
        var events = new EventLog(store.Clock);
        return (new PeerStore(store.Db, events, store.Audit, store.Clock), events);
    }

    private static async Task<List<string>> EventTypesAsync(TestStore store, EventLog events) =>
        (await events.ListAsync(store.Db, Caller.System("test"), new EventQuery(Type: "federation."), TestStore.Ct)).Value.Items.Select(e => e.Type).ToList();

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Record_TrustedPresence_IsOnlineWithItsCapacityAndRaisesOnline(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (peers, events) = Open(store);

        await peers.RecordAsync(Trusted(5), TestStore.Ct);

        var peer = (await peers.FindAsync("beta", TestStore.Ct)).Value;
        peer.Online.ShouldBeTrue();
        peer.Trust.ShouldBe(PeerTrustState.Trusted);
        peer.Capacity!.Regions.ShouldBe(Capacity.Regions);
        peer.Url.ShouldBe("https://beta.example/api/v1");
        (await peers.FindAsync("BETA@exchange.example", TestStore.Ct)).Value.Address.ShouldBe(Beta);
        (await peers.LastSequenceAsync(Beta, TestStore.Ct)).ShouldBe(5);
        (await peers.ListAsync(TestStore.Ct)).Count.ShouldBe(1);
        (await EventTypesAsync(store, events)).ShouldBe([PeerStore.Types.PeerOnline]);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Record_RefusedPresence_IsKeptOfflineAndAuditedOncePerVerdict(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (peers, events) = Open(store);
        var refused = new PeerObservation(Beta, PeerTrustState.Revoked, "the certificate was revoked", Fingerprint: "ab12", Sequence: 7);

        await peers.RecordAsync(refused, TestStore.Ct);
        await peers.RecordAsync(refused with { Sequence = 8 }, TestStore.Ct);

        var peer = (await peers.FindAsync(Beta, TestStore.Ct)).Value;
        peer.Online.ShouldBeFalse();
        peer.Trust.ShouldBe(PeerTrustState.Revoked);
        peer.Reason.ShouldBe("the certificate was revoked");
        peer.Capacity.ShouldBeNull();
        (await peers.LastSequenceAsync(Beta, TestStore.Ct)).ShouldBe(8);
        var audit = (await store.Audit.ListAsync(store.Db, null, null, 100, TestStore.Ct)).Items.Where(e => e.Action == PeerStore.RefusedAction).ToList();
        audit.Count.ShouldBe(1);
        audit[0].Target.ShouldBe(Beta);
        audit[0].Detail.ShouldBe("revoked: the certificate was revoked");
        (await EventTypesAsync(store, events)).ShouldBe([PeerStore.Types.PeerUntrusted]);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Record_TrustedThenRefusedThenTrusted_RaisesEachChange(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (peers, events) = Open(store);

        await peers.RecordAsync(Trusted(1), TestStore.Ct);
        await peers.RecordAsync(new PeerObservation(Beta, PeerTrustState.Expired, "the certificate expired", Sequence: 2), TestStore.Ct);
        await peers.RecordAsync(Trusted(3), TestStore.Ct);

        (await EventTypesAsync(store, events)).ShouldBe([
            PeerStore.Types.PeerOnline,
            PeerStore.Types.PeerUntrusted, PeerStore.Types.PeerOffline,
            PeerStore.Types.PeerTrusted, PeerStore.Types.PeerOnline,
        ]);
        (await peers.FindAsync("beta", TestStore.Ct)).Value.Capacity.ShouldNotBeNull();
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task SetOffline_OnlinePeer_RaisesOfflineOnce(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (peers, events) = Open(store);
        await peers.RecordAsync(Trusted(1), TestStore.Ct);

        (await peers.SetOfflineAsync(Beta, "no answer to ping", TestStore.Ct)).ShouldBeTrue();
        (await peers.SetOfflineAsync(Beta, "no answer to ping", TestStore.Ct)).ShouldBeFalse();
        (await peers.SetOfflineAsync("nobody@exchange.example", "unavailable", TestStore.Ct)).ShouldBeFalse();

        var peer = (await peers.FindAsync(Beta, TestStore.Ct)).Value;
        peer.Online.ShouldBeFalse();
        peer.Trust.ShouldBe(PeerTrustState.Trusted);
        var offline = (await events.ListAsync(store.Db, Caller.System("test"), new EventQuery(Type: PeerStore.Types.PeerOffline), TestStore.Ct)).Value.Items.Single();
        offline.Data["why"].ShouldBe("no answer to ping");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Record_Concurrently_KeepsEveryChange(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (peers, _) = Open(store);

        await Task.WhenAll(Enumerable.Range(1, 8).Select(i => peers.RecordAsync(Trusted(i), TestStore.Ct)));

        (await peers.LastSequenceAsync(Beta, TestStore.Ct)).ShouldBe(8);
        (await peers.ListAsync(TestStore.Ct)).Single().Online.ShouldBeTrue();
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    public async Task Find_UnknownPeer_IsNotFound(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (peers, _) = Open(store);

        var found = await peers.FindAsync("gamma", TestStore.Ct);

        found.Error!.Code.ShouldBe("not-found");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Distrust_KeepsThePeerUntrustedWhateverItsPresence_UntilTrustedAgain(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (peers, _) = Open(store);
        await peers.RecordAsync(Trusted(5), TestStore.Ct);

        var distrusted = await peers.DistrustAsync(Caller.System("test"), "beta", "audit finding", TestStore.Ct);
        var presence = await peers.RecordAsync(Trusted(6), TestStore.Ct);

        distrusted.Value.Trust.ShouldBe(PeerTrustState.Untrusted);
        presence.Trust.ShouldBe(PeerTrustState.Untrusted);
        presence.Online.ShouldBeFalse();
        presence.Reason.ShouldBe("distrusted by the provider admin: audit finding");
        (await peers.TrustAsync(Caller.System("test"), "beta", TestStore.Ct)).Value.Trust.ShouldBe(PeerTrustState.Unverified);
        (await peers.RecordAsync(Trusted(7), TestStore.Ct)).Trust.ShouldBe(PeerTrustState.Trusted);
        var audited = await store.Db.QueryAsync<string>("SELECT action FROM audit_log WHERE target = @Target ORDER BY seq", new { Target = Beta }, TestStore.Ct);
        audited.ShouldContain(PeerStore.DistrustAction);
        audited.ShouldContain(PeerStore.TrustAction);
    }
}
