using Welkin.Core.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

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
        if (!options.Enabled)
        {
            return services;
        }
        var password = Check(options);
        services.AddSingleton(sp =>
        {
            var (credentials, error) = FederationCredentials.Load(options.CaCertificate!, options.Crl!, options.Certificate!, options.CertificateKey!, sp.GetRequiredService<TimeProvider>());
            return credentials ?? throw new StartupException(ServerExitCodes.Usage, "federation: " + error);
        });
        // Loaded once here to refuse the start on a bad file; the service's copy judges peers on the server's clock.
        var (probe, loadError) = FederationCredentials.Load(options.CaCertificate!, options.Crl!, options.Certificate!, options.CertificateKey!, TimeProvider.System);
        if (probe is null)
        {
            throw new StartupException(ServerExitCodes.Usage, "federation: " + loadError);
        }
        probe.Dispose();
        var address = options.Address!.Trim();
        var at = address.IndexOf('@', StringComparison.Ordinal);
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
            Domain = address[(at + 1)..],
            Username = address[..at],
            Password = password,
            Resource = options.Resource,
            Host = options.ExchangeHost,
            Port = options.ExchangePort,
            TrustAnchors = anchors,
        });
        services.AddSingleton<FederationService>();
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
        var address = options.Address!.Trim();
        var at = address.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at == address.Length - 1 || address.Contains('/', StringComparison.Ordinal))
        {
            throw new StartupException(ServerExitCodes.Usage, $"federation: Federation:Address '{address}' is not a bare XMPP address (cloud@domain)");
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
        if (options.PresenceInterval <= TimeSpan.Zero || options.PeerPingInterval <= TimeSpan.Zero || options.PeerPingTimeout <= TimeSpan.Zero || options.PresenceMaxAge <= TimeSpan.Zero)
        {
            throw new StartupException(ServerExitCodes.Usage, "federation: PresenceInterval, PresenceMaxAge, PeerPingInterval and PeerPingTimeout must be positive");
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
}
