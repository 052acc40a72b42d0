using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Intercloud.Trust;

namespace Welkin.Testing.Clouds;

/// <summary>
/// A cloud on real Kestrel with federation configured: the ordinary API on a loopback port and the
/// federation listener (mutual TLS) on another, its CA, CRL and certificate in a temporary directory.
/// Peers are clients holding certificates this fixture issues.
/// </summary>
public sealed class FederationListenerApp : WelkinApp
{
    public const string Cloud = "Home";
    public const string Address = "home@exchange.test";

    private readonly string _root = TempDirectories.NewPath("welkin-fedtls-");
    private readonly List<IDisposable> _owned = [];
    private readonly IReadOnlyDictionary<string, string?> _extra;
    private readonly TimeProvider? _clock;

    public FederationListenerApp()
        : this(Cloud, Address, null)
    {
    }

    /// <summary>
    /// A cloud named <paramref name="cloud"/>; with <paramref name="federationRoot"/>, its CA and CRL are
    /// the ones under that directory (made by the first cloud), so several clouds share one federation.
    /// <paramref name="settings"/> come after the federation's own; with <paramref name="clock"/>, the cloud's time is that clock's.
    /// </summary>
    internal FederationListenerApp(
        string cloud, string address, string? federationRoot, IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? clock = null)
    {
        _extra = settings ?? new Dictionary<string, string?>();
        _clock = clock;
        Directory.CreateDirectory(_root);
        Name = cloud;
        XmppAddress = address;
        var shared = federationRoot ?? _root;
        CaDirectory = Path.Combine(shared, "ca");
        CrlFile = Path.Combine(shared, "crl.pem");
        ListenerPort = Loopback.FreePort();
        if (!Directory.Exists(CaDirectory))
        {
            // Dated back, so that certificates issued in the past (expired ones) can be issued from it.
            FederationAuthority.Create(CaDirectory, "Test federation CA", FederationKeyAlgorithm.Ecdsa, new FakeTimeProvider(TimeProvider.System.GetUtcNow().AddDays(-30))).Dispose();
        }
        using var ca = FederationAuthority.Open(CaDirectory, TimeProvider.System);
        Ca = X509CertificateLoader.LoadCertificate(ca.Certificate.RawData);
        var home = ca.Issue(new CloudIdentity(cloud, address, ListenerUrl));
        CertificateSerial = home.Issued.Serial;
        File.WriteAllText(Path.Combine(_root, "cloud.pem"), home.CertificatePem);
        FederationAuthority.WritePrivate(Path.Combine(_root, "cloud.key"), home.PrivateKeyPem);
        if (!File.Exists(CrlFile))
        {
            File.WriteAllText(CrlFile, ca.CreateCrl());
        }
    }

    /// <summary>This cloud's federation name and XMPP address.</summary>
    public string Name { get; }

    public string XmppAddress { get; }

    /// <summary>The serial of this cloud's own federation certificate (to revoke it).</summary>
    public string CertificateSerial { get; }

    public int ListenerPort { get; }

    public Uri ListenerUrl => new($"https://127.0.0.1:{ListenerPort}/federation/v1");

    public X509Certificate2 Ca { get; }

    public string CaDirectory { get; }

    public string CrlFile { get; }

    protected override TimeProvider? ServerClock => _clock;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(OwnSettings.Concat(_extra).GroupBy(p => p.Key).Select(g => g.Last()));

    private Dictionary<string, string?> OwnSettings => new()
    {
        ["Welkin:Port"] = "0",
        ["Federation:Name"] = Name,
        ["Federation:Address"] = XmppAddress,
        ["Federation:Url"] = ListenerUrl.AbsoluteUri,
        ["Federation:Listen"] = "127.0.0.1:" + ListenerPort.ToString(CultureInfo.InvariantCulture),
        ["Federation:CaCertificate"] = Path.Combine(CaDirectory, FederationAuthority.CertificateFile),
        ["Federation:Crl"] = CrlFile,
        ["Federation:Certificate"] = Path.Combine(_root, "cloud.pem"),
        ["Federation:CertificateKey"] = Path.Combine(_root, "cloud.key"),
        // No exchange runs here: the federation service keeps trying a closed loopback port in the background.
        ["Federation:Password"] = "no-exchange-here",
        ["Federation:ExchangeTrust"] = Path.Combine(CaDirectory, FederationAuthority.CertificateFile),
        ["Federation:ExchangeHost"] = "127.0.0.1",
        ["Federation:ExchangePort"] = Loopback.FreePort().ToString(CultureInfo.InvariantCulture),
        ["Federation:AgreementCheckInterval"] = "00:00:00.250",
    };

    public override ValueTask InitializeAsync()
    {
        UseKestrel();
        StartServer();
        return ValueTask.CompletedTask;
    }

    /// <summary>The ordinary API's plain-HTTP address.</summary>
    public Uri ApiAddress => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single(a => a.StartsWith("http://", StringComparison.Ordinal)));

    /// <summary>A client of the ordinary API with the provider administrator's token.</summary>
    public HttpClient OrdinaryAdmin() => Ordinary(AdminToken);

    /// <summary>A client of the ordinary API with <paramref name="token"/> (anonymous when null).</summary>
    public HttpClient Ordinary(string? token)
    {
        var client = new HttpClient { BaseAddress = ApiAddress };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        _owned.Add(client);
        return client;
    }

    /// <summary>
    /// A peer's client on a connection of its own, presenting <paramref name="certificate"/> (none when null)
    /// and trusting only the federation CA for the listener's certificate.
    /// </summary>
    public HttpClient Peer(X509Certificate2? certificate)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = certificate is null ? null : new X509CertificateCollection { certificate },
                RemoteCertificateValidationCallback = (_, server, _, _) => server is not null && ChainsToCa(server),
            },
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{ListenerPort}") };
        _owned.Add(client);
        return client;
    }

    /// <summary>Issues a cloud certificate, with its key, from this federation's CA (or another's), at <paramref name="clock"/>'s time.</summary>
    public (X509Certificate2 Certificate, string Serial) Issue(string cloud, TimeSpan? validity = null, TimeProvider? clock = null, string? caDirectory = null)
    {
        using var ca = FederationAuthority.Open(caDirectory ?? CaDirectory, clock ?? TimeProvider.System);
        var issued = ca.Issue(new CloudIdentity(cloud, cloud.ToLowerInvariant() + "@exchange.test", new Uri($"https://{cloud.ToLowerInvariant()}.test:8443/federation/v1")), validity);
        using var pem = X509Certificate2.CreateFromPem(issued.CertificatePem, issued.PrivateKeyPem);
        var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        _owned.Add(certificate);
        return (certificate, issued.Issued.Serial);
    }

    /// <summary>Revokes a serial and rewrites the CRL file the running cloud reads.</summary>
    public void Revoke(string serial)
    {
        using var ca = FederationAuthority.Open(CaDirectory, TimeProvider.System);
        ca.Revoke(serial, X509RevocationReason.KeyCompromise);
        FederationAuthority.WriteAtomically(CrlFile, ca.CreateCrl());
    }

    /// <summary>A second, unrelated federation CA.</summary>
    public string OtherCa()
    {
        var directory = Path.Combine(_root, "other-ca-" + Guid.NewGuid().ToString("n")[..8]);
        FederationAuthority.Create(directory, "Another federation CA", FederationKeyAlgorithm.Ecdsa, TimeProvider.System).Dispose();
        return directory;
    }

    private bool ChainsToCa(X509Certificate certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var server = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(server);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
        Ca.Dispose();
        TempDirectories.TryDelete(_root);
    }
}
