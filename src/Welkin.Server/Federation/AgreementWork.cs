using Welkin.Core.Common;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// Federation agreements' periodic work: proposals a peer has not answered yet are sent again (the first
/// tick follows start-up, so a crash loses no request), and agreements whose peer is no longer trusted
/// (its certificate revoked by the CRL in force, or the peer untrusted here) are terminated.
/// </summary>
public sealed class AgreementWork(FederationAgreements agreements, FederationOptions options) : IPeriodicWork
{
    public string Name => "federation-agreements";

    public TimeSpan Interval => options.AgreementCheckInterval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        await agreements.CheckTrustAsync(ct);
        await agreements.RetryProposedAsync(ct);
    }
}
