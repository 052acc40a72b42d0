using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Welkin.Intercloud.Trust;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// The federation's share of the server's setup: the one <see cref="FederationCredentials"/> of the cloud
/// and, when <see cref="FederationOptions.Listen"/> is set, the federation listener (mutual TLS).
/// </summary>
public static class FederationSetup
{
    /// <summary>Registers the cloud's federation credentials, loaded once on first use, when federation is enabled.</summary>
    public static IServiceCollection AddFederationCredentials(this IServiceCollection services, FederationOptions options)
    {
        if (options.Enabled)
        {
            services.AddSingleton(sp => LoadCredentials(options, sp.GetRequiredService<TimeProvider>()));
        }
        return services;
    }

    /// <summary>Loads the files the section names; a missing setting or a bad file refuses the start with one line.</summary>
    public static FederationCredentials LoadCredentials(FederationOptions options, TimeProvider clock)
    {
        (string Key, string? Value)[] files =
        [
            ("Federation:CaCertificate", options.CaCertificate),
            ("Federation:Crl", options.Crl),
            ("Federation:Certificate", options.Certificate),
            ("Federation:CertificateKey", options.CertificateKey),
        ];
        var missing = files.Where(f => string.IsNullOrWhiteSpace(f.Value)).Select(f => f.Key).ToList();
        if (missing.Count > 0)
        {
            throw new StartupException(ServerExitCodes.Usage, $"federation is configured (Federation:Address) but {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} not set");
        }
        var (credentials, error) = FederationCredentials.Load(options.CaCertificate!, options.Crl!, options.Certificate!, options.CertificateKey!, clock);
        return credentials ?? throw new StartupException(ServerExitCodes.Usage, $"the federation credentials cannot be loaded: {error}");
    }

    /// <summary>
    /// Reads the section, registers the credentials and, when a listen address is set, gives Kestrel the
    /// federation endpoint: HTTPS with the cloud's certificate, TLS 1.2 or 1.3, a client certificate required.
    /// </summary>
    public static WebApplicationBuilder AddFederation(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Federation").Get<FederationOptions>() ?? new FederationOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddFederationCredentials(options);
        if (!options.Enabled || string.IsNullOrWhiteSpace(options.Listen))
        {
            return builder;
        }
        var endpoint = ListenEndpoint(options.Listen);
        builder.Services.AddSingleton<FederationListener>();
        builder.WebHost.ConfigureKestrel(k => k.Listen(endpoint, listen =>
        {
            // Resolved once Kestrel binds, not when its options are read: the listener's audit opens the data directory.
            var services = k.ApplicationServices;
            FederationListener Listener() => services.GetRequiredService<FederationListener>();
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.Use(next => Listener().AuditRefusedHandshakes(next));
            listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = k.ApplicationServices.GetRequiredService<FederationCredentials>().Certificate,
                SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                // The chain Kestrel built trusts the system store; the federation CA alone decides (see FederationListener).
                ClientCertificateValidation = (certificate, _, _) => Listener().Accept(certificate),
                CheckCertificateRevocation = false,
            });
            listen.Use(FederationListener.MarkConnections);
        }));
        return builder;
    }

    /// <summary>
    /// Loads the credentials and checks the listener's port before the start changes anything, so that a
    /// bad file or a taken port ends the start with one line rather than once the database is migrated.
    /// </summary>
    public static void EnsureFederationReady(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<FederationOptions>();
        if (!options.Enabled)
        {
            return;
        }
        app.Services.GetRequiredService<FederationCredentials>();
        if (string.IsNullOrWhiteSpace(options.Listen))
        {
            return;
        }
        var endpoint = ListenEndpoint(options.Listen);
        using var probe = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            probe.Bind(endpoint);
        }
        catch (SocketException e)
        {
            var why = e.SocketErrorCode == SocketError.AddressAlreadyInUse ? "is in use" : "cannot be bound: " + e.Message;
            throw new StartupException(ServerExitCodes.CannotListen, $"the federation listener's address {endpoint} (Federation:Listen) {why}", e);
        }
    }

    private static IPEndPoint ListenEndpoint(string listen) =>
        IPEndPoint.TryParse(listen, out var endpoint) && endpoint.Port is > 0 and <= IPEndPoint.MaxPort
            ? endpoint
            : throw new StartupException(ServerExitCodes.Usage, $"Federation:Listen '{listen}' is not an IP address and port, e.g. 127.0.0.1:8443 or [::]:8443");
}
