using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Federation;

/// <summary>AgreementStore's transitions: compare-and-swap on state and version, each with its history row, event and audit entry.</summary>
public sealed class AgreementStoreTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Caller Admin = Caller.System("test");

    private AgreementStore Store => app.Services.GetRequiredService<AgreementStore>();

    private IDatabase Db => app.Services.GetRequiredService<IDatabase>();

    private static AgreementTerms Terms(long units) => new(
        new AgreementPolicy(["DE"]),
        new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = units }, [new AgreementOffering("off_01h00000000000000000000000", 1)]),
        new AgreementMetering("USD"));

    private async Task<AgreementRow> ProposedAsync()
    {
        var now = Store.Now();
        var id = Store.NewId();
        var row = new AgreementRow(id, "consumer", "Peer", null, "https://peer.test:8443/federation/v1", new string('a', 64), null, id, null, null,
            AgreementStore.Proposed, AgreementStore.Serialize(Terms(1)), null, null, null, null, null, null, null, 1, now, now);
        (await Db.WriteAsync<bool>(async tx => await Store.InsertAsync(tx, Admin, row, AgreementStore.Actions.Propose, null), Ct)).Value.ShouldBeTrue();
        return row;
    }

    private async Task<AgreementRow?> TransitionAsync(AgreementRow from, AgreementRow to, string action) =>
        (await Db.WriteAsync<AgreementRow?>(async tx => await Store.TransitionAsync(tx, Admin, from, to, action, "because"), Ct)).Value;

    [Fact]
    public async Task Transition_TakesTheNextVersion_AndRecordsHistoryEventAndAudit()
    {
        var proposed = await ProposedAsync();

        var active = await TransitionAsync(proposed, proposed with { State = AgreementStore.Active }, AgreementStore.Actions.Accept);
        var amended = await TransitionAsync(active!, active! with { State = AgreementStore.Amended, Terms = AgreementStore.Serialize(Terms(3)) }, AgreementStore.Actions.Amend);

        amended!.Version.ShouldBe(3);
        var versions = await Store.VersionsAsync(proposed.Id, Ct);
        versions.Select(v => (v.Version, v.State)).ShouldBe([(1L, AgreementState.Proposed), (2L, AgreementState.Active), (3L, AgreementState.Amended)]);
        versions[2].Terms.Entitlement.Units["compute-unit"].ShouldBe(3);
        versions[2].Reason.ShouldBe("because");
        var events = await Db.QueryAsync<string>("SELECT type FROM events WHERE target = @Id ORDER BY seq", new { proposed.Id }, Ct);
        events.ShouldBe(["federation.agreement.proposed", "federation.agreement.active", "federation.agreement.amended"]);
        var audited = await Db.QueryAsync<string>("SELECT action FROM audit_log WHERE target = @Id ORDER BY seq", new { proposed.Id }, Ct);
        audited.ShouldBe([AgreementStore.Actions.Propose, AgreementStore.Actions.Accept, AgreementStore.Actions.Amend]);
    }

    [Fact]
    public async Task Transition_FromAStaleRead_ChangesNothing()
    {
        var proposed = await ProposedAsync();
        (await TransitionAsync(proposed, proposed with { State = AgreementStore.Active }, AgreementStore.Actions.Accept)).ShouldNotBeNull();

        var stale = await TransitionAsync(proposed, proposed with { State = AgreementStore.Refused }, AgreementStore.Actions.Refuse);

        stale.ShouldBeNull();
        (await Store.GetAsync(proposed.Id, Ct))!.State.ShouldBe(AgreementStore.Active);
        (await Store.VersionsAsync(proposed.Id, Ct)).Count.ShouldBe(2);
    }

    [Fact]
    public async Task Policy_DefaultsToNoPeers_AndChangesOnlyFromTheVersionRead()
    {
        var policy = await Store.GetPolicyAsync(Ct);
        policy.Peers.ShouldBeEmpty();

        var first = await Store.SetPolicyAsync(Admin, policy with { Peers = ["*"] }, policy.Version, Ct);
        var stale = await Store.SetPolicyAsync(Admin, policy with { Peers = ["Other"] }, policy.Version, Ct);

        first.Value.Version.ShouldBe(policy.Version + 1);
        stale.Error!.Code.ShouldBe("precondition-failed");
        (await Store.GetPolicyAsync(Ct)).Peers.ShouldBe(["*"]);
    }
}
