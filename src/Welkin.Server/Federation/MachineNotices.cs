using System.Xml.Linq;
using Welkin.Compute.Peer;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// <c>urn:welkin:federation:machines:1</c>: "a machine of yours under this agreement changed state here", sent by a
/// provider cloud to the consumer cloud of the agreement as an IQ set. It carries the agreement's id only (no state, no
/// authority): the consumer, hearing it from the verified session of a trusted peer it has that agreement in force with,
/// polls that peer's pools at once (<see cref="PeerDriver.Nudge"/>, rate-limited), and believes only the peer's API.
/// </summary>
public static class MachineNotice
{
    public const string Namespace = "urn:welkin:federation:machines:1";

    public static readonly XName ElementName = XName.Get("machines", Namespace);

    public static XElement Create(string agreementId) => new(ElementName, new XAttribute("agreement", agreementId));

    /// <summary>The agreement id of a notice, or null when it has none that could be one.</summary>
    public static string? AgreementOf(XElement payload) =>
        payload.Attribute("agreement")?.Value is { } id && Ids.IsValid(id, Ids.Agreement) ? id : null;

    /// <summary>
    /// The consumer's side: the peer pools of the agreement's peer poll at once when <paramref name="from"/> is the
    /// verified session of the peer this cloud has the named agreement in force with; anything else is refused.
    /// </summary>
    public static async Task<XmppIqAnswer> AnswerAsync(
        XmppIqRequest request, bool verified, AgreementStore agreements, ComputeFabric fabric, CancellationToken ct)
    {
        if (request.Type != "set")
        {
            return XmppIqAnswer.Error("cancel", "bad-request", "a machine notice is only sent");
        }
        if (!verified)
        {
            return XmppIqAnswer.Error("auth", "forbidden", "notices are taken from verified peers only");
        }
        var id = AgreementOf(request.Payload);
        var agreement = id is null ? null : await agreements.GetAsync(id, ct);
        if (agreement is not { InForce: true } || agreement.ParsedSide != AgreementSide.Consumer
            || !string.Equals(agreement.PeerAddress, XmppAddress.Bare(request.From), StringComparison.OrdinalIgnoreCase))
        {
            return XmppIqAnswer.Error("cancel", "item-not-found", "no agreement in force with the sender has this id");
        }
        foreach (var pool in fabric.Pools.Select(p => p.Driver).OfType<IPeerPool>().Where(d => d.Peer == agreement.PeerName))
        {
            pool.Refresh();
        }
        return XmppIqAnswer.Result();
    }
}

/// <summary>
/// The provider's side of machine notices: every <see cref="FederationOptions.MachineNoticeInterval"/>, the machine
/// events since the last tick, and one notice per agreement in force whose cloud account they are of, to its consumer.
/// A notice that does not arrive costs the consumer nothing but the wait for its next poll.
/// </summary>
public sealed class MachineNoticeWork(IDatabase db, EventLog events, AgreementStore agreements, FederationService federation, FederationOptions options)
    : IPeriodicWork
{
    private const int Page = EventLog.MaxLimit;

    private long? _cursor;
    private DateTimeOffset? _start;

    public string Name => "federation-machine-notices";

    public TimeSpan Interval => options.MachineNoticeInterval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        var caller = Caller.System("machine-notices");
        var accounts = new HashSet<string>(StringComparer.Ordinal);
        // Changes from before this cloud started are not told: until the first event, the query starts at the start.
        _start ??= now;
        while (true)
        {
            var query = new EventQuery("machine.", Since: _cursor is null ? _start : null, After: _cursor, Limit: Page);
            var page = await events.ListAsync(db, caller, query, ct);
            if (!page.IsSuccess || page.Value.Items.Count == 0)
            {
                break;
            }
            _cursor = page.Value.Items[^1].Seq;
            accounts.UnionWith(page.Value.Items.Where(e => e.AccountId is not null).Select(e => e.AccountId!));
            if (page.Value.Next is null)
            {
                break;
            }
        }
        if (accounts.Count == 0)
        {
            return;
        }
        foreach (var agreement in await agreements.InForceAsync(null, null, ct))
        {
            // A provider's row keeps the consumer's own id of the agreement as its proposal id.
            if (agreement.ParsedSide == AgreementSide.Provider && agreement.AccountId is { } account && accounts.Contains(account) && agreement.PeerAddress is { } peer
                && agreement.ProposalId is { } theirs)
            {
                await federation.NotifyPeerAsync(peer, MachineNotice.Create(theirs), ct);
            }
        }
    }
}
