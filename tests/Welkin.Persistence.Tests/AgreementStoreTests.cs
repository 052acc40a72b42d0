using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

/// <summary>AgreementStore on both providers: compare-and-swap on state and version, each change with its history row, event and audit entry; the versioned policy.</summary>
public sealed class AgreementStoreTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    private static readonly Caller Admin = Caller.System("test");

    private static AgreementStore Open(TestStore store) => new(store.Db, new EventLog(store.Clock), store.Audit, store.Clock);

    private static AgreementTerms Terms(long units) => new(
        new AgreementPolicy(["DE"]),
        new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = units }, [new AgreementOffering("off_01h00000000000000000000000", 1)]),
        new AgreementMetering("USD"));

    private static async Task<AgreementRow> ProposedAsync(TestStore store, AgreementStore agreements)
    {
        var now = agreements.Now();
        var id = agreements.NewId();
        var row = new AgreementRow(id, "consumer", "Peer", null, "https://peer.test:8443/federation/v1", new string('a', 64), null, id, null, null,
            AgreementStore.Proposed, AgreementStore.Serialize(Terms(1)), null, null, null, null, null, null, null, 1, now, now);
        (await store.Db.WriteAsync<bool>(async tx => await agreements.InsertAsync(tx, Admin, row, AgreementStore.Actions.Propose, null), TestStore.Ct))
            .Value.ShouldBeTrue();
        return row;
    }

    private static async Task<AgreementRow?> TransitionAsync(TestStore store, AgreementStore agreements, AgreementRow from, AgreementRow to, string action) =>
        (await store.Db.WriteAsync<AgreementRow?>(async tx => await agreements.TransitionAsync(tx, Admin, from, to, action, "because"), TestStore.Ct)).Value;

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Transition_TakesTheNextVersion_AndRecordsHistoryEventAndAudit(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var agreements = Open(store);
        var proposed = await ProposedAsync(store, agreements);

        var active = await TransitionAsync(store, agreements, proposed, proposed with { State = AgreementStore.Active }, AgreementStore.Actions.Accept);
        var amended = await TransitionAsync(store, agreements, active!,
            active! with { State = AgreementStore.Amended, Terms = AgreementStore.Serialize(Terms(3)) }, AgreementStore.Actions.Amend);

        amended!.Version.ShouldBe(3);
        var versions = await agreements.VersionsAsync(proposed.Id, TestStore.Ct);
        versions.Select(v => (v.Version, v.State)).ShouldBe([(1L, AgreementState.Proposed), (2L, AgreementState.Active), (3L, AgreementState.Amended)]);
        versions[2].Terms.Entitlement.Units["compute-unit"].ShouldBe(3);
        versions[2].Reason.ShouldBe("because");
        var events = (await new EventLog(store.Clock).ListAsync(store.Db, Admin, new EventQuery(Type: "federation.agreement."), TestStore.Ct)).Value.Items;
        events.Select(e => e.Type).ShouldBe(["federation.agreement.proposed", "federation.agreement.active", "federation.agreement.amended"]);
        var audited = await store.Db.QueryAsync<string>("SELECT action FROM audit_log WHERE target = @Id ORDER BY seq", new { proposed.Id }, TestStore.Ct);
        audited.ShouldBe([AgreementStore.Actions.Propose, AgreementStore.Actions.Accept, AgreementStore.Actions.Amend]);
        (await agreements.InForceAsync("Peer", null, TestStore.Ct)).Single().Id.ShouldBe(proposed.Id);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Transition_FromAStaleRead_ChangesNothing(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var agreements = Open(store);
        var proposed = await ProposedAsync(store, agreements);
        (await TransitionAsync(store, agreements, proposed, proposed with { State = AgreementStore.Active }, AgreementStore.Actions.Accept)).ShouldNotBeNull();

        var stale = await TransitionAsync(store, agreements, proposed, proposed with { State = AgreementStore.Refused }, AgreementStore.Actions.Refuse);

        stale.ShouldBeNull();
        (await agreements.GetAsync(proposed.Id, TestStore.Ct))!.State.ShouldBe(AgreementStore.Active);
        (await agreements.VersionsAsync(proposed.Id, TestStore.Ct)).Count.ShouldBe(2);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Insert_OfAProposalIdTakenFromTheSamePeer_IsRefused(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var agreements = Open(store);
        var first = await ProposedAsync(store, agreements);

        var again = first with { Id = agreements.NewId() };
        var inserted = await store.Db.WriteAsync<bool>(async tx => await agreements.InsertAsync(tx, Admin, again, AgreementStore.Actions.Propose, null), TestStore.Ct);

        inserted.Value.ShouldBeFalse();
        (await agreements.ListAsync(TestStore.Ct)).Count.ShouldBe(1);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Policy_DefaultsToNoPeers_AndChangesOnlyFromTheVersionRead(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var agreements = Open(store);
        var policy = await agreements.GetPolicyAsync(TestStore.Ct);
        policy.Peers.ShouldBeEmpty();
        policy.Version.ShouldBe(0);

        var first = await agreements.SetPolicyAsync(Admin, policy with { Peers = ["*"] }, policy.Version, TestStore.Ct);
        var stale = await agreements.SetPolicyAsync(Admin, policy with { Peers = ["Other"] }, policy.Version, TestStore.Ct);
        var second = await agreements.SetPolicyAsync(Admin, first.Value with { Peers = ["Cloud1"] }, first.Value.Version, TestStore.Ct);

        first.Value.Version.ShouldBe(1);
        stale.Error!.Code.ShouldBe("precondition-failed");
        second.Value.Version.ShouldBe(2);
        var stored = await agreements.GetPolicyAsync(TestStore.Ct);
        stored.Peers.ShouldBe(["Cloud1"]);
        stored.Version.ShouldBe(2);
    }
}
