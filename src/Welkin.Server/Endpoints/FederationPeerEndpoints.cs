using Microsoft.AspNetCore.Http.HttpResults;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Federation;
using Welkin.Core.Security;
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
}
