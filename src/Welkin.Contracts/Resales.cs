namespace Welkin.Contracts;

// A broker's resale: an offering of a peer this cloud holds an agreement with, published in this
// cloud's catalog under its own name and at the peer's prices plus a margin. Machines of a resold
// offering run in the peer's pool (the offering's burst policy names the peer).

/// <summary><c>POST /api/v1/federation/resales</c>: resell <see cref="OfferingId"/> (the peer's) under <see cref="AgreementId"/> (this cloud's, as consumer).</summary>
/// <param name="MarginPercent">Added to every price of the peer's plan (0 to 1000); prices are rounded to 4 decimals.</param>
/// <param name="Name">The offering's name in this cloud's catalog; default the peer's name prefixed with the peer's.</param>
public sealed record ResaleRequest(string AgreementId, string OfferingId, decimal MarginPercent, string? Name = null);

/// <summary>A resale: which peer offering, under which agreement, became which offering (and template) here.</summary>
public sealed record ResaleView(
    string Id,
    string AgreementId,
    string Peer,
    string PeerOfferingId,
    string OfferingId,
    string TemplateId,
    decimal MarginPercent,
    DateTimeOffset Created);
