using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Server.Federation;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// The routes peer clouds call on the federation listener. They are anonymous to the bearer scheme on
/// purpose: the caller is authenticated by its client certificate, accepted by the TLS handshake and
/// checked again on each request (<see cref="RequirePeerCertificate"/>). <see cref="FederationRouting"/>
/// keeps them off the ordinary port and the ordinary API off the listener.
/// </summary>
public static class FederationEndpoints
{
    public const string Prefix = "/federation/v1";
    public const string CallAction = "federation.call";
    private const string CallerKey = "welkin.federation-caller";

    public static IEndpointRouteBuilder MapFederation(this IEndpointRouteBuilder app)
    {
        var federation = app.MapAnonymousInterface(Prefix, "Federation")
            .WithMetadata(FederationRouting.Metadata)
            .AddEndpointFilter(RequirePeerCertificate);
        federation.MapGet("/hello", Hello).WithName("federation.hello")
            .WithSummary("Say who this cloud is and who the calling cloud is, as its client certificate names it (federation listener, mutual TLS)")
            .WithDescription("Served only on the federation listener (Federation:Listen), never on the ordinary port. The caller authenticates "
                + "with a certificate of the federation CA in the TLS handshake (mutual TLS), not with a token; one that is missing, "
                + "of another CA, expired or revoked is refused at the handshake, and one revoked since is refused 403 'peer-certificate-refused'.");
        federation.MapPost("/agreements", Propose).WithName("federation.agreement-propose")
            .WithSummary("A peer proposes a federation agreement: refused 422 'agreement-refused' with every reason, or accepted with its account, contract and credential");
        federation.MapPut("/agreements/{id}", AmendAgreement).WithName("federation.agreement-amend-proposal")
            .WithSummary("A peer asks to amend an agreement this cloud provides: its new terms are evaluated again");
        federation.MapPost("/agreements/{id}/terminate", TerminateAgreement).WithName("federation.agreement-terminate-notice")
            .WithSummary("A peer ends an agreement (either side): this side terminates too");
        return app;
    }

    private static async Task<Results<Ok<AgreementAcceptance>, ProblemHttpResult>> Propose(
        AgreementProposal proposal, HttpContext context, [FromServices] AgreementProvider provider, [FromServices] FederationAgreements agreements, CancellationToken ct)
    {
        var peer = (FederationCloudView)context.Items[CallerKey]!;
        var pem = context.Connection.ClientCertificate!.ExportCertificatePem();
        return (await provider.ProposeAsync(new AgreementPeer(peer.Name, peer.XmppAddress, peer.Url, peer.Fingerprint), pem, proposal, agreements.OwnApiUrl, ct)).ToOk(context);
    }

    private static async Task<Results<Ok<AgreementAmendAnswer>, ProblemHttpResult>> AmendAgreement(
        string id, AgreementAmendProposal amendment, HttpContext context, [FromServices] AgreementProvider provider, CancellationToken ct)
    {
        var peer = (FederationCloudView)context.Items[CallerKey]!;
        return (await provider.AmendAsync(peer.Fingerprint, id, amendment, ct)).ToOk(context);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> TerminateAgreement(
        string id, AgreementTerminationNotice notice, HttpContext context, [FromServices] FederationAgreements agreements, CancellationToken ct)
    {
        var peer = (FederationCloudView)context.Items[CallerKey]!;
        var ended = await agreements.PeerTerminatedAsync(peer.Fingerprint, id, notice, ct);
        return ended.IsSuccess ? TypedResults.NoContent() : Problems.From(ended.Error!, context);
    }

    private static Ok<FederationHelloView> Hello(HttpContext context, [FromServices] FederationOptions options, [FromServices] FederationCredentials credentials)
    {
        var caller = (FederationCloudView)context.Items[CallerKey]!;
        var name = options.Name ?? credentials.Certificate.GetNameInfo(X509NameType.SimpleName, false);
        return TypedResults.Ok(new FederationHelloView(new FederationCloudView(name, options.Address, options.Url, credentials.Fingerprint), caller));
    }

    /// <summary>
    /// A connection lives on after its handshake: a certificate revoked (or expired) since then is refused
    /// here, at its next request.
    /// </summary>
    private static async ValueTask<object?> RequirePeerCertificate(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        var certificate = context.Connection.ClientCertificate;
        var credentials = context.RequestServices.GetService<FederationCredentials>();
        var verdict = certificate is null || credentials is null
            ? new PeerVerdict(PeerVerdictKind.Untrusted, "no client certificate")
            : credentials.Verifier.VerifyCertificate(certificate);
        if (!verdict.IsTrusted)
        {
            var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FederationEndpoints).FullName!)
                .LogWarning("Federation call {Path} from {Address} refused: {Reason}", context.Request.Path.Value, address, verdict.Reason);
            var entry = new AuditEvent(CallAction, context.Request.Path.Value ?? Prefix, AuditEvent.Denied, null, verdict.Reason);
            await context.RequestServices.GetRequiredService<RefusalAudit>().RecordAsync(Caller.Anonymous(context.TraceIdentifier), entry, address, CancellationToken.None);
            return Problems.From(new Error("peer-certificate-refused", ErrorKind.Forbidden, "The client certificate is not accepted: " + verdict.Reason + "."), context);
        }
        context.Items[CallerKey] = Describe(certificate!);
        return await next(invocation);
    }

    private static FederationCloudView Describe(X509Certificate2 certificate)
    {
        var (addresses, urls) = CloudIdentity.Read(certificate);
        return new FederationCloudView(
            certificate.GetNameInfo(X509NameType.SimpleName, false),
            addresses.Count > 0 ? addresses[0] : null,
            urls.Count > 0 ? urls[0].AbsoluteUri : null,
            CloudPresence.FingerprintOf(certificate.RawData));
    }
}

/// <summary>
/// The federation routes answer on the listener only. On the listener, the rest of the API answers a
/// peer cloud's federation credential only: a request without an Authorization header is answered 404,
/// as a route that does not exist there, and one whose token is not a certificate-bound credential
/// presented with its certificate 401. Decided by the connection (marked by the listener), not by the
/// Host header.
/// </summary>
public sealed class FederationRouting(RequestDelegate next)
{
    public static readonly object Metadata = new FederationRouteMetadata();

    public async Task InvokeAsync(HttpContext context)
    {
        var onListener = context.Features.Get<FederationConnectionFeature>() is not null;
        var federationRoute = context.GetEndpoint()?.Metadata.GetMetadata<FederationRouteMetadata>() is not null;
        if ((federationRoute && !onListener) || (onListener && !federationRoute && !context.Request.Headers.ContainsKey(HeaderNames.Authorization)))
        {
            context.SetEndpoint(null);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (onListener && !federationRoute)
        {
            // Authenticated here, not left to authorization: an anonymous route would serve a refused token anonymously.
            var authenticated = await context.AuthenticateAsync(TokenAuthenticationHandler.SchemeName);
            if (!authenticated.Succeeded)
            {
                context.SetEndpoint(null);
                await context.ChallengeAsync(TokenAuthenticationHandler.SchemeName);
                return;
            }
            if (TokenAuthenticationHandler.CallerOf(context).CertificateSha256 is null)
            {
                context.SetEndpoint(null);
                await Problems.WriteAsync(context, StatusCodes.Status401Unauthorized, "federation-credential-required",
                    "The federation listener serves the API to peer clouds only, with the federation credential their agreement issued.");
                return;
            }
        }
        await next(context);
    }

    private sealed class FederationRouteMetadata;
}
