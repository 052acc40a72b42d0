using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Welkin.Core.Security;

namespace Welkin.Server.Infrastructure;

/// <summary>Bearer API tokens (RFC 6750). The resolved <see cref="Caller"/> rides on HttpContext.Items.</summary>
public sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, SecurityManager security)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";
    private const string CallerKey = "welkin.caller";
    private const string HeldKey = "welkin.held-account";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail("Only Bearer tokens are accepted.");
        }
        var secret = header["Bearer ".Length..].Trim();
        var caller = await security.AuthenticateAsync(secret, PresentedCertificate(), Context.TraceIdentifier, Context.RequestAborted);
        if (caller is null)
        {
            if (await security.HeldAccountAsync(secret, Context.RequestAborted) is { } held)
            {
                Context.Items[HeldKey] = held;
            }
            return AuthenticateResult.Fail("The token is unknown, expired or revoked.");
        }
        Context.Items[CallerKey] = caller;
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, caller.PrincipalId), new Claim(ClaimTypes.Name, caller.PrincipalId)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    /// <summary>
    /// The SHA-256 of the client certificate this request's connection presented (only the federation
    /// listener asks for one), when the federation still trusts it: verified again at each request, so a
    /// certificate revoked since the handshake binds no token.
    /// </summary>
    private string? PresentedCertificate()
    {
        var certificate = Context.Connection.ClientCertificate;
        var credentials = certificate is null ? null : Context.RequestServices.GetService<Welkin.Intercloud.Trust.FederationCredentials>();
        return credentials is not null && credentials.Verifier.VerifyCertificate(certificate!).IsTrusted
            ? Welkin.Intercloud.Federation.CloudPresence.FingerprintOf(certificate!.RawData)
            : null;
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.TryGetValue(HeldKey, out var h) && h is Welkin.Core.Common.Error held)
        {
            // The token is genuine but its account is pending or refused: say so rather than "unauthenticated".
            return Problems.WriteAsync(Context, Problems.Status(held.Kind), held.Code, held.Detail);
        }
        Response.Headers.WWWAuthenticate = "Bearer realm=\"welkin\"";
        return Problems.WriteAsync(Context, 401, "unauthenticated", "Send a valid API token as 'Authorization: Bearer <token>'.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, 403, "forbidden", "This operation is not allowed for your roles.");

    public static Caller CallerOf(HttpContext context) =>
        context.Items.TryGetValue(CallerKey, out var c) && c is Caller caller ? caller : Caller.Anonymous(context.TraceIdentifier);
}

/// <summary>
/// Writes a "failed"/"denied" audit entry for a state-changing request that was refused,
/// since no transaction of the operation ran to record it. Successful changes are audited by
/// the operation itself inside its own transaction. The action name is the endpoint name.
/// An anonymous caller's refusals go through <see cref="Welkin.Core.Audit.RefusalAudit"/>, which
/// sums up repeats; an authenticated caller's are each written.
/// </summary>
public sealed class AuditFailuresFilter(Welkin.Core.Audit.AuditLog audit, Welkin.Core.Audit.RefusalAudit refusals, Welkin.Core.Data.IDatabase db) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var result = await next(context);
        var http = context.HttpContext;
        if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
        {
            return result;
        }
        var status = StatusOf(result);
        if (status is >= 400 and not 401)
        {
            var action = http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName ?? http.Request.Method;
            var caller = TokenAuthenticationHandler.CallerOf(http);
            var target = http.Request.Path.Value ?? "";
            var outcome = status == 403 ? Welkin.Core.Audit.AuditEvent.Denied : Welkin.Core.Audit.AuditEvent.Failed;
            var accountId = caller.AccountId;
            var entry = new Welkin.Core.Audit.AuditEvent(action, target.Length > 200 ? target[..200] : target, outcome, accountId, $"status={status}");
            // Not the request's token: a client that hangs up must not be able to skip its audit entry.
            if (caller.IsAnonymous)
            {
                await refusals.RecordAsync(caller, entry, http.Connection.RemoteIpAddress?.ToString() ?? "unknown", CancellationToken.None);
            }
            else
            {
                await audit.AppendAsync(db, caller, entry, CancellationToken.None);
            }
        }
        return result;
    }

    private static int? StatusOf(object? result)
    {
        while (result is INestedHttpResult nested)
        {
            result = nested.Result;
        }
        return (result as IStatusCodeHttpResult)?.StatusCode;
    }
}
