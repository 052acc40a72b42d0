using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Federation;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Rdf;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// Asks the trusted peers one SPARQL query each, over the exchange (<see cref="SparqlPayload"/>), all at
/// once, each within PeerQueryTimeout, and says of every peer asked whether it answered and, if not,
/// why. A trusted peer that is offline is not asked and is reported so. <see cref="FindAsync"/> turns
/// the criteria of a selection into the query and merges the answers into one ranked list.
/// </summary>
public sealed class FederatedSelection(FederationOptions options, PeerStore peers, FederationService federation, ILogger<FederatedSelection> logger)
{
    // What a peer says of its refusal is shown to the caller, at most this long.
    private const int MaxDetail = 500;

    public async Task<FederatedOfferList> FindAsync(OfferCriteria criteria, CancellationToken ct)
    {
        var (answers, unanswered) = await AskAsync(await TrustedAsync(ct), criteria.ToSparql(), ct);
        var offers = OfferCriteria.Rank(answers.SelectMany(a => OfferCriteria.Offers(a.Peer, a.Results)));
        return new FederatedOfferList(offers, [.. answers.Select(a => a.Peer)], unanswered);
    }

    /// <param name="names">Peers by federation name or address; every trusted peer when null or empty.</param>
    public async Task<Result<FederatedQueryResult>> QueryAsync(string sparql, IReadOnlyList<string>? names, CancellationToken ct)
    {
        var trusted = await TrustedAsync(ct);
        var targets = trusted;
        if (names is { Count: > 0 })
        {
            targets = [];
            foreach (var name in names.Distinct(StringComparer.Ordinal))
            {
                var found = trusted.FirstOrDefault(p => string.Equals(p.Address, name, StringComparison.OrdinalIgnoreCase) || p.Name == name);
                if (found is null)
                {
                    return new Error("peer-not-found", ErrorKind.NotFound, $"'{name}' is not a trusted peer of this cloud.");
                }
                targets.Add(found);
            }
        }
        var (answers, unanswered) = await AskAsync(targets, sparql, ct);
        return new FederatedQueryResult(
            [.. answers.Select(a => new PeerQueryAnswer(a.Peer, Json(a.Results)))], unanswered);
    }

    private static JsonElement Json(SparqlResults results)
    {
        using var document = JsonDocument.Parse(results.ToJson());
        return document.RootElement.Clone();
    }

    private async Task<List<PeerView>> TrustedAsync(CancellationToken ct) =>
        [.. (await peers.ListAsync(ct)).Where(p => p.Trust == PeerTrustState.Trusted)];

    private async Task<(List<(FederatedPeer Peer, SparqlResults Results)> Answers, List<UnansweredPeer> Unanswered)> AskAsync(
        IReadOnlyList<PeerView> targets, string sparql, CancellationToken ct)
    {
        var asked = await Task.WhenAll(targets.Select(peer => AskOneAsync(peer, sparql, ct)));
        var answers = asked.Where(a => a.Results is not null).Select(a => (a.Peer, a.Results!)).ToList();
        var unanswered = asked.Where(a => a.Unanswered is not null).Select(a => a.Unanswered!)
            .OrderBy(u => u.Name ?? u.Address, StringComparer.Ordinal).ToList();
        return (answers, unanswered);
    }

    private async Task<(FederatedPeer Peer, SparqlResults? Results, UnansweredPeer? Unanswered)> AskOneAsync(PeerView peer, string sparql, CancellationToken ct)
    {
        var who = new FederatedPeer(peer.Name, peer.Address);
        if (!peer.Online)
        {
            return (who, null, new UnansweredPeer(peer.Name, peer.Address, "offline", null, peer.Reason ?? "the peer is offline"));
        }
        var (result, error) = await federation.AskPeerAsync(peer.Address, SparqlPayload.Query(sparql), options.PeerQueryTimeout, ct);
        if (error is not null)
        {
            logger.LogInformation("Federation: {Address} did not answer a SPARQL query ({Code}): {Detail}", peer.Address, error.Code, error.Detail);
            return (who, null, Unanswered(peer, error));
        }
        var (results, problem) = SparqlPayload.Read(result);
        return results is null
            ? (who, null, new UnansweredPeer(peer.Name, peer.Address, "error", null, $"the peer's answer is not valid: {problem}"))
            : (who, results, null);
    }

    private static UnansweredPeer Unanswered(PeerView peer, XmppError error)
    {
        if (error.StanzaError is not { } stanza)
        {
            var reason = error.Code switch { "xmpp-timeout" => "timeout", "peer-offline" => "offline", _ => "error" };
            return new UnansweredPeer(peer.Name, peer.Address, reason, null, error.Detail);
        }
        var condition = stanza.Application is { } application ? $"{stanza.Condition}/{application.LocalName}" : stanza.Condition;
        return new UnansweredPeer(peer.Name, peer.Address, stanza.Condition == "forbidden" ? "refused" : "error", condition,
            stanza.Text is { } text ? text[..Math.Min(text.Length, MaxDetail)] : $"the peer answered {condition}");
    }
}
