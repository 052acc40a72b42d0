using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Welkin.Core.Billing;
using Welkin.Core.Common;
using Welkin.Core.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// The federation's share of the server's setup: the peer store, and when federation is on, the cloud's
/// one <see cref="FederationCredentials"/>, the <see cref="FederationService"/> and, when
/// <see cref="FederationOptions.Listen"/> is set, the federation listener (mutual TLS).
/// </summary>
public static class FederationSetup
{
    /// <summary>
    /// The peer store always (the peer list answers "off" without federation); with a Federation
    /// section naming an address, the <see cref="FederationService"/>. Its files and password are read
    /// here, so a misconfigured federation stops the start with exit code 2 and one line saying what.
    /// </summary>
    public static IServiceCollection AddFederation(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Federation").Get<FederationOptions>() ?? new FederationOptions();
        services.AddSingleton(options);
        services.AddFederationPeers();
        services.AddSingleton<FederationAgreements>();
        services.AddSingleton<Resales>();
        services.AddSingleton<Core.Compute.IPeerLinks, PeerLinks>();
        services.AddSingleton<IPeerCharges>(sp => sp.GetRequiredService<FederationAgreements>());
        services.AddSingleton<PeerRevenue>();
        services.AddSingleton<BurstReconciliation>();
        if (!options.Enabled)
        {
            return services;
        }
        services.AddPeriodicWork<AgreementWork>();
        services.AddPeriodicWork<MachineNoticeWork>();
        var password = Check(options);
        // Loaded by EnsureFederationReady before the data directory is touched, so a bad file refuses the start there.
        services.AddSingleton(sp => LoadCredentials(options, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<Core.Compute.IMigrationCredentials, FederationMigrationCredentials>();
        var address = BareAddress("Federation:Address", options.Address!.Trim());
        System.Security.Cryptography.X509Certificates.X509Certificate2Collection anchors;
        try
        {
            anchors = XmppClientOptions.LoadTrustAnchors(options.ExchangeTrust!);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new StartupException(ServerExitCodes.Usage, $"federation: the exchange trust {options.ExchangeTrust} cannot be read: {exception.Message}");
        }
        services.AddSingleton(new XmppClientOptions
        {
            Domain = address.Domain,
            Username = address.Local!,
            Password = password,
            Resource = options.Resource,
            Host = options.ExchangeHost,
            Port = options.ExchangePort,
            TrustAnchors = anchors,
        });
        services.AddSingleton<SparqlResponder>();
        services.AddSingleton<FederationService>();
        services.AddSingleton<FederatedSelection>();
        services.AddHostedService(sp => sp.GetRequiredService<FederationService>());
        return services;
    }

    /// <summary>The settings a federated cloud needs; returns the XMPP password.</summary>
    private static string Check(FederationOptions options)
    {
        var missing = new List<string>();
        void Need(string? value, string key)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                missing.Add("Federation:" + key);
            }
        }
        Need(options.Name, nameof(options.Name));
        Need(options.Url, nameof(options.Url));
        Need(options.ExchangeTrust, nameof(options.ExchangeTrust));
        Need(options.CaCertificate, nameof(options.CaCertificate));
        Need(options.Crl, nameof(options.Crl));
        Need(options.Certificate, nameof(options.Certificate));
        Need(options.CertificateKey, nameof(options.CertificateKey));
        if (string.IsNullOrEmpty(options.Password) && string.IsNullOrWhiteSpace(options.PasswordFile))
        {
            missing.Add("Federation:Password or Federation:PasswordFile");
        }
        if (missing.Count > 0)
        {
            throw new StartupException(ServerExitCodes.Usage, $"federation: {options.Address} is set but {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} missing");
        }
        BareAddress("Federation:Address", options.Address!.Trim());
        for (var i = 0; i < options.Peers.Count; i++)
        {
            BareAddress($"Federation:Peers:{i}", options.Peers[i]);
        }
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out _))
        {
            throw new StartupException(ServerExitCodes.Usage, $"federation: Federation:Url '{options.Url}' is not an absolute URL");
        }
        foreach (var (key, file) in new[]
        {
            (nameof(options.ExchangeTrust), options.ExchangeTrust), (nameof(options.CaCertificate), options.CaCertificate), (nameof(options.Crl), options.Crl),
            (nameof(options.Certificate), options.Certificate), (nameof(options.CertificateKey), options.CertificateKey),
            (nameof(options.PasswordFile), string.IsNullOrEmpty(options.Password) ? options.PasswordFile : null),
        })
        {
            // The certificate loaders say "no such file" without the file's name; this says which.
            if (file is not null && !File.Exists(file))
            {
                throw new StartupException(ServerExitCodes.Usage, $"federation: the file of Federation:{key}, {file}, does not exist");
            }
        }
        if (options.PresenceInterval <= TimeSpan.Zero || options.CapacityCheckInterval <= TimeSpan.Zero || options.PeerPingInterval <= TimeSpan.Zero
            || options.PeerPingTimeout <= TimeSpan.Zero || options.PresenceMaxAge <= TimeSpan.Zero)
        {
            throw new StartupException(ServerExitCodes.Usage, "federation: PresenceInterval, CapacityCheckInterval, PresenceMaxAge, PeerPingInterval and PeerPingTimeout must be positive");
        }
        if (options.PresenceBurst < 1 || !(options.PresenceRate > 0) || double.IsInfinity(options.PresenceRate))
        {
            throw new StartupException(ServerExitCodes.Usage, "federation: PresenceBurst must be at least 1 and PresenceRate a positive number");
        }
        if (options.QueryBurst < 1 || !(options.QueryRate > 0) || double.IsInfinity(options.QueryRate) || options.PeerQueryTimeout <= TimeSpan.Zero)
        {
            throw new StartupException(ServerExitCodes.Usage, "federation: QueryBurst must be at least 1, QueryRate a positive number and PeerQueryTimeout positive");
        }
        if (!string.IsNullOrEmpty(options.Password))
        {
            return options.Password;
        }
        try
        {
            var line = File.ReadLines(options.PasswordFile!).FirstOrDefault()?.TrimEnd('\r');
            return string.IsNullOrEmpty(line)
                ? throw new StartupException(ServerExitCodes.Usage, $"federation: the password file {options.PasswordFile} is empty")
                : line;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new StartupException(ServerExitCodes.Usage, $"federation: the password file {options.PasswordFile} cannot be read: {exception.Message}");
        }
    }

    /// <summary>The RFC 7622 bare address (cloud@domain) a setting names; anything else refuses the start.</summary>
    private static XmppJid BareAddress(string key, string? value)
    {
        if (!XmppAddress.TryParse(value, out var jid, out var error) || jid.Local is null || !jid.IsBare)
        {
            throw new StartupException(ServerExitCodes.Usage, $"federation: {key} '{value}' is not a bare XMPP address (cloud@domain){(error is null ? "" : ": " + error)}");
        }
        return jid;
    }

    /// <summary>Loads the files <see cref="Check"/> found set and present; a bad one refuses the start with one line.</summary>
    private static FederationCredentials LoadCredentials(FederationOptions options, TimeProvider clock)
    {
        var (credentials, error) = FederationCredentials.Load(options.CaCertificate!, options.Crl!, options.Certificate!, options.CertificateKey!, clock);
        return credentials ?? throw new StartupException(ServerExitCodes.Usage, $"the federation credentials cannot be loaded: {error}");
    }

    /// <summary>
    /// When federation is on and a listen address is set, gives Kestrel the federation endpoint: HTTPS
    /// with the cloud's certificate, TLS 1.2 or 1.3, a client certificate required.
    /// </summary>
    public static WebApplicationBuilder AddFederationListener(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Federation").Get<FederationOptions>() ?? new FederationOptions();
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
