namespace Welkin.Contracts;

/// <summary>A cloud as its federation certificate (or, for this cloud, its configuration) names it.</summary>
public sealed record FederationCloudView(string Name, string? XmppAddress, string? Url, string Fingerprint);

/// <summary>The answer of <c>GET /federation/v1/hello</c>: this cloud, and the caller as read from its client certificate.</summary>
public sealed record FederationHelloView(FederationCloudView Cloud, FederationCloudView Caller);
