using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.FileProviders;
using Welkin.Portal.Components;
using Welkin.Portal.Consoles;
using Welkin.Portal.Endpoints;
using Welkin.Portal.Downloads;
using Welkin.Portal.Sessions;

namespace Welkin.Portal;

public static class PortalSetup
{
    /// <summary>
    /// The portal's policy for what a page may load: its own scripts, styles and images only, no inline script,
    /// no framing, forms posted only back to itself. The base may be this site's: App.razor's &lt;base href="/"&gt; resolves
    /// the assets (and blazor.web.js, which applies streamed updates) on nested paths such as /jobs/{id}.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

    public static IServiceCollection AddWelkinPortal(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<PortalOptions>(configuration.GetSection(PortalOptions.Section));
        services.AddHttpContextAccessor();
        // People's sessions run on real time unless the host says otherwise: in simulation mode the cloud's clock
        // jumps by days or months, which must not sign out the operator who moved it (nor anyone else).
        services.TryAddSingleton(new PortalClock(TimeProvider.System));
        services.AddSingleton<PortalSessions>();
        // The server registers its database's store; without one, sessions live in memory.
        services.TryAddSingleton<IPortalSessionStore, InMemoryPortalSessionStore>();
        services.AddDataProtection();
        services.AddSingleton<HomeCloud>();
        services.AddSingleton<NoVncFiles>();
        services.AddSingleton<PortalForwarding>();
        services.AddScoped<PortalContext>();
        services.AddTransient<ForwardingHandler>();
        services.AddHttpClient(PortalContext.HomeClient).AddHttpMessageHandler<ForwardingHandler>();
        services.AddHttpClient(PortalContext.PeerClient);
        // Each page makes API calls; the server already logs every request it serves, so one line per call is noise.
        services.AddLogging(logging => logging.AddFilter("System.Net.Http.HttpClient.welkin-portal", LogLevel.Warning));
        services.AddRazorComponents();
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "welkin-antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
            o.SuppressXFrameOptionsHeader = true; // set for every portal response below, with the CSP
        });
        return services;
    }

    /// <summary>The portal's headers on every answer outside the APIs, then antiforgery for its forms.</summary>
    public static IApplicationBuilder UseWelkinPortal(this IApplicationBuilder app)
    {
        app.Use(static (context, next) =>
        {
            if (IsPortalPath(context.Request.Path))
            {
                context.Response.OnStarting(static state =>
                {
                    var headers = ((HttpContext)state).Response.Headers;
                    // An endpoint that serves a document of its own (an invoice's HTML) sets a stricter policy first.
                    if (!headers.ContainsKey("Content-Security-Policy"))
                    {
                        headers.ContentSecurityPolicy = ContentSecurityPolicy;
                    }
                    headers.XFrameOptions = "DENY";
                    headers.XContentTypeOptions = "nosniff";
                    headers["Referrer-Policy"] = "same-origin";
                    headers["Cross-Origin-Opener-Policy"] = "same-origin";
                    if (!headers.ContainsKey("Cache-Control"))
                    {
                        headers.CacheControl = "no-store";
                    }
                    return Task.CompletedTask;
                }, context);
            }
            return next(context);
        });
        // The session is read once per request, before any page or endpoint asks for it synchronously.
        app.Use(static async (context, next) =>
        {
            if (IsPortalPath(context.Request.Path) && !System.IO.Path.HasExtension(context.Request.Path.Value))
            {
                await context.RequestServices.GetRequiredService<PortalContext>().LoadAsync(context.RequestAborted);
            }
            await next(context);
        });
        // noVNC for machines' consoles, from the server's own package (never copied into the portal).
        var noVnc = app.ApplicationServices.GetRequiredService<NoVncFiles>();
        if (noVnc.Available)
        {
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(noVnc.Directory), RequestPath = NoVncFiles.RequestPath });
        }
        app.UseAntiforgery();
        return app;
    }

    public static WebApplication MapWelkinPortal(this WebApplication app)
    {
        app.MapStaticAssets();
        app.MapRazorComponents<App>();
        app.MapJobState();
        app.MapImageTransfers();
        app.MapVaultTransfers();
        app.MapInvoiceDownloads();
        app.MapConsoleSocket();
        return app;
    }

    /// <summary>
    /// The portal's answer to a path nothing serves: a page a person can read, not the APIs' JSON problem. Bodies
    /// for other statuses stay with the server's problem writer.
    /// </summary>
    public static async Task<bool> TryWriteNotFoundAsync(HttpContext context)
    {
        if (context.Response.StatusCode != StatusCodes.Status404NotFound || !IsPortalPath(context.Request.Path)
            || !context.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.Ordinal))
        {
            return false;
        }
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Not found · Welkin</title><link rel="stylesheet" href="/_content/Welkin.Portal/portal.css"></head>
            <body><main id="main"><h1>Not found</h1><p>Nothing is at this address. <a href="/">Go to the portal's start page</a>.</p></main></body></html>
            """);
        return true;
    }

    /// <summary>Paths the portal answers: everything but the APIs and the probes.</summary>
    public static bool IsPortalPath(PathString path) =>
        !path.StartsWithSegments("/api") && !path.StartsWithSegments("/federation") && !path.StartsWithSegments("/health");
}

/// <summary>Adds the browser's address and this process's key to the portal's calls to this cloud (<see cref="PortalForwarding"/>).</summary>
internal sealed class ForwardingHandler(PortalForwarding forwarding, IHttpContextAccessor accessor) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (accessor.HttpContext?.Connection.RemoteIpAddress is { } address)
        {
            request.Headers.TryAddWithoutValidation(PortalForwarding.KeyHeader, forwarding.Key);
            request.Headers.TryAddWithoutValidation(PortalForwarding.ClientHeader, address.ToString());
        }
        return base.SendAsync(request, cancellationToken);
    }
}
