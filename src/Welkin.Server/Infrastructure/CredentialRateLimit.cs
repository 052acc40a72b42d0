using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// A per-client-address limit on the routes anyone may call that hash a password: login and
/// sign-up. It answers before authentication, the body or the database are touched, so a flood
/// from one address costs almost nothing; the bound on concurrent hashing
/// (<see cref="Welkin.Core.Security.PasswordWork"/>) covers floods spread over many addresses.
/// </summary>
public static class CredentialRateLimit
{
    public const string Policy = "credentials";

    public const int DefaultLimit = 30;

    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMinutes(1);

    public static IServiceCollection AddCredentialRateLimit(this IServiceCollection services, IConfiguration configuration)
    {
        var limit = configuration.GetValue("Security:CredentialRequestLimit", DefaultLimit);
        var window = configuration.GetValue("Security:CredentialRequestWindow", DefaultWindow);
        if (limit < 1 || window <= TimeSpan.Zero)
        {
            throw new ArgumentException("Security:CredentialRequestLimit must be at least 1 and Security:CredentialRequestWindow positive.");
        }
        services.AddRateLimiter(o =>
        {
            o.AddPolicy(Policy, context => RateLimitPartition.GetFixedWindowLimiter(
                ClientAddress(context),
                _ => new FixedWindowRateLimiterOptions { PermitLimit = limit, Window = window, QueueLimit = 0, AutoReplenishment = true }));
            o.OnRejected = (rejected, _) =>
            {
                var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : window;
                var http = rejected.HttpContext;
                http.Response.Headers.RetryAfter = Math.Max(1, Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return new ValueTask(Problems.WriteAsync(http, StatusCodes.Status429TooManyRequests, "too-many-requests",
                    "Too many sign-ups or logins from this address; try again later."));
            };
        });
        return services;
    }

    /// <summary>The caller's address; for the portal's calls, the browser's address the portal vouches for with its key.</summary>
    private static string ClientAddress(HttpContext context)
    {
        var forwarded = context.RequestServices.GetRequiredService<Welkin.Portal.Sessions.PortalForwarding>().ClientOf(
            context.Request.Headers[Welkin.Portal.Sessions.PortalForwarding.KeyHeader], context.Request.Headers[Welkin.Portal.Sessions.PortalForwarding.ClientHeader]);
        return forwarded ?? context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
    }
}
