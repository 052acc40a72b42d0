using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Server.Federation;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>The peer clouds of this cloud's federation, for operators.</summary>
public static class FederationPeerEndpoints
{
    public static IEndpointRouteBuilder MapFederationPeers(this IEndpointRouteBuilder app)
    {
        var peers = app.MapInterface("/api/v1/federation/peers", "Federation");
        peers.MapGet("/", ListPeers).WithName("federation.peer-list").WithSummary("List the peer clouds, their presence, capacity and trust state");
        peers.MapGet("/{peer}", GetPeer).WithName("federation.peer-get").WithSummary("Show one peer cloud by federation name or XMPP address");
        peers.MapPost("/{peer}/distrust", Distrust).WithName("federation.peer-distrust")
            .WithSummary("Stop trusting a peer whatever its presence says, terminating every agreement with it (provider admin)");
        peers.MapPost("/{peer}/trust", Trust).WithName("federation.peer-trust")
            .WithSummary("Undo a distrust: the peer's next presence is judged on its certificate again (provider admin)");
        return app;
    }

    private static async Task<Results<Ok<PeerList>, ProblemHttpResult>> ListPeers(
        Caller caller, PeerStore peers, FederationOptions options, HttpContext context, CancellationToken ct)
    {
        if (!caller.Can(Permission.FabricRead))
        {
            return Problems.From(Error.Forbidden("Reading the federation's peers needs the operator or provider-admin role."), context);
        }
        return TypedResults.Ok(options.Enabled
            ? new PeerList("on", options.Address, await peers.ListAsync(ct))
            : new PeerList("off", null, []));
    }

    private static async Task<Results<Ok<PeerView>, ProblemHttpResult>> GetPeer(
        string peer, Caller caller, PeerStore peers, HttpContext context, CancellationToken ct)
    {
        if (!caller.Can(Permission.FabricRead))
        {
            return Problems.From(Error.Forbidden("Reading the federation's peers needs the operator or provider-admin role."), context);
        }
        return (await peers.FindAsync(peer, ct)).ToOk(context);
    }

    private static async Task<Results<Ok<PeerView>, ProblemHttpResult>> Distrust(
        string peer, PeerDistrust request, Caller caller, PeerStore peers, FederationAgreements agreements, HttpContext context, CancellationToken ct)
    {
        if (FederationAgreements.RequireAdmin(caller) is { } denied)
        {
            return Problems.From(denied, context);
        }
        if (request.Reason is not { Length: > 0 and <= 500 })
        {
            return Problems.From(Error.Validation("reason", "reason must be 1-500 characters"), context);
        }
        var distrusted = await peers.DistrustAsync(caller, peer, request.Reason, ct);
        if (distrusted.IsSuccess)
        {
            await agreements.TerminateUntrustedAsync(distrusted.Value.Name, distrusted.Value.Fingerprint, "the peer is distrusted: " + request.Reason, ct);
        }
        return distrusted.ToOk(context);
    }

    private static async Task<Results<Ok<PeerView>, ProblemHttpResult>> Trust(
        string peer, Caller caller, PeerStore peers, HttpContext context, CancellationToken ct) =>
        FederationAgreements.RequireAdmin(caller) is { } denied ? Problems.From(denied, context) : (await peers.TrustAsync(caller, peer, ct)).ToOk(context);
}
