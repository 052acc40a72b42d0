using System.Text.Json;

namespace Welkin.Contracts;

/// <summary>A peer cloud by its federation name (null when it never said) and bare XMPP address.</summary>
public sealed record FederatedPeer(string? Name, string Address);

/// <summary>A peer that did not answer a federated query, and why.</summary>
/// <param name="Reason">"offline", "timeout", "refused" (the peer answered forbidden) or "error".</param>
/// <param name="Condition">The stanza error's condition, and its application condition when it had one (e.g. "bad-request/sparql-syntax").</param>
/// <param name="Detail">What the peer or this cloud said about it.</param>
public sealed record UnansweredPeer(string? Name, string Address, string Reason, string? Condition, string Detail);

/// <summary>One offering of a peer that meets the criteria of <c>GET /api/v1/federation/offers</c>.</summary>
/// <param name="Url">The offering's IRI in the peer's catalog description: its URL in the peer's API.</param>
/// <param name="Vcpus">The fewest vCPUs the offering lets one virtual system have within the criteria.</param>
/// <param name="MemoryMiB">The least memory likewise.</param>
/// <param name="Price">The price of the offering's cpu-hour rate, in <see cref="Currency"/> per <see cref="Unit"/>.</param>
/// <param name="Availability">The SLA's availability target in percent.</param>
public sealed record FederatedOffer(
    FederatedPeer Peer,
    string OfferingId,
    string Name,
    string Url,
    int Vcpus,
    long MemoryMiB,
    string Jurisdiction,
    string Region,
    decimal Price,
    string Unit,
    string Currency,
    decimal Availability);

/// <summary>The answer of <c>GET /api/v1/federation/offers</c>: the offers ranked by price, then availability; who answered; who did not.</summary>
public sealed record FederatedOfferList(IReadOnlyList<FederatedOffer> Offers, IReadOnlyList<FederatedPeer> Answered, IReadOnlyList<UnansweredPeer> Unanswered);

/// <summary>The body of <c>POST /api/v1/federation/query</c>: a SPARQL query, and the peers (names or addresses) to ask; every trusted peer when null.</summary>
public sealed record FederatedQueryRequest(string Sparql, IReadOnlyList<string>? Peers = null);

/// <summary>One peer's answer: its SPARQL 1.1 Query Results JSON document as the peer's engine gave it.</summary>
public sealed record PeerQueryAnswer(FederatedPeer Peer, JsonElement Results);

/// <summary>The answer of <c>POST /api/v1/federation/query</c>.</summary>
public sealed record FederatedQueryResult(IReadOnlyList<PeerQueryAnswer> Answers, IReadOnlyList<UnansweredPeer> Unanswered);
