using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using Welkin.Contracts;
using Welkin.Intercloud.Trust;
using Welkin.Testing;
using Welkin.Testing.Xmpp;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// One private Prosody and three welkin-server processes federated through it: ProviderCo-US (knows
/// DE and CC), ProviderCo-DE (knows CC) and CloudCoC (knows nobody, so it is found), each with its own
/// data directory, a simulated pool labelled with its jurisdiction and a federation listener (mutual
/// TLS) on a loopback port, all with certificates of one federation CA. The CA also issued the certificates the refusal tests present: one that has
/// expired, one that is revoked, and one for another address than the one it is used from.
/// A subclass may give a cloud other pools and settings (<see cref="CloudArguments"/>).
/// </summary>
public class FederationClouds : IAsyncLifetime
{
    public const string Password = "exchange-secret";

    public static readonly (string Name, string User, string Jurisdiction, string Region)[] Clouds =
    [
        ("ProviderCo-US", "us", "US", "us-east"),
        ("ProviderCo-DE", "de", "DE", "eu-central"),
        ("CloudCoC", "cc", "CH", "ch-west"),
    ];

    private readonly string _root = Directory.CreateDirectory(TempDirectories.NewPath("welkin-federation-")).FullName;
    private readonly Dictionary<string, ServerCommand> _servers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HttpClient> _admins = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _serials = new(StringComparer.Ordinal);
    // Below the kernel's ephemeral range, so that no outgoing connection takes a port before its cloud listens on it (they are chosen long before).
    private readonly Dictionary<string, int> _listenerPorts = Clouds.ToDictionary(c => c.User, _ => Loopback.FreePortRange(1), StringComparer.Ordinal);
    private ProsodyServer? _prosody;
    private TcpRelay? _relay;

    public ProsodyServer Prosody => _prosody!;

    /// <summary>CloudCoC reaches the exchange through this relay, which a test can cut.</summary>
    public TcpRelay Relay => _relay!;

    public string CaDirectory => Path.Combine(_root, "ca");

    public string CrlFile => Path.Combine(_root, "ca", "crl.pem");

    /// <summary>
    /// Certificates (with keys) of parties that are not one of the three clouds, by purpose: "expired",
    /// "revoked", "mismatch" and "rogue" (refused), and "probe", valid, for a test party that a cloud trusts.
    /// </summary>
    public Dictionary<string, X509Certificate2> Strangers { get; } = new(StringComparer.Ordinal);

    public static string Address(string user) => $"{user}@{ProsodyServer.Domain}";

    /// <summary>The URL in the certificate of a party that is not one of the three clouds.</summary>
    public static Uri UrlOf(string user) => new($"https://{user}.cloud.test:8443/api/v1");

    /// <summary>A cloud's Federation:Url, on its federation listener: the URL its certificate names and peers call.</summary>
    public Uri CloudUrl(string user) => new($"https://127.0.0.1:{_listenerPorts[user].ToString(CultureInfo.InvariantCulture)}/api/v1");

    /// <summary>A cloud's data directory (its SQLite database is there).</summary>
    public string DataDirectory(string user) => Path.Combine(_root, user, "data");

    /// <summary>A cloud's certificate and key files, as its Federation:Certificate and Federation:CertificateKey.</summary>
    public (string Certificate, string Key) CertificateFilesOf(string user) => (Path.Combine(_root, user, "cloud.pem"), Path.Combine(_root, user, "cloud.key"));

    public string CaCertificateFile => Path.Combine(CaDirectory, FederationAuthority.CertificateFile);

    public HttpClient Admin(string user) => _admins[user];

    /// <summary>A cloud's certificate, without its key: what anyone who saw its presence has.</summary>
    public X509Certificate2 CertificateOf(string user) => X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_root, user, "cloud.pem"));

    public ServerCommand Server(string user) => _servers[user];

    public async ValueTask InitializeAsync()
    {
        var accounts = Clouds.ToDictionary(c => c.User, _ => Password);
        foreach (var stranger in new[] { "rogue", "expired", "revoked", "mismatch", "probe" })
        {
            accounts[stranger] = Password;
        }
        _prosody = await ProsodyServer.StartAsync("SHA-256", accounts);
        _relay = new TcpRelay(_prosody.Port);
        IssueCertificates();
        foreach (var cloud in Clouds)
        {
            await StartAsync(cloud.User);
        }
    }

    /// <summary>Starts (or starts again, on the same data directory) one cloud and logs its admin in.</summary>
    public async Task StartAsync(string user)
    {
        var cloud = Clouds.Single(c => c.User == user);
        var dir = Path.Combine(_root, user);
        var peers = user switch
        {
            "us" => new[] { "de", "cc" },
            "de" => ["cc"],
            _ => [],
        };
        string[] args =
        [
            $"--Federation:Name={cloud.Name}",
            $"--Federation:Address={Address(user)}",
            $"--Federation:PasswordFile={Path.Combine(dir, "xmpp.password")}",
            "--Federation:ExchangeHost=127.0.0.1",
            $"--Federation:ExchangePort={(user == "cc" ? Relay.Port : Prosody.Port)}",
            $"--Federation:ExchangeTrust={Prosody.CertificateFile}",
            $"--Federation:CaCertificate={Path.Combine(CaDirectory, FederationAuthority.CertificateFile)}",
            $"--Federation:Crl={CrlFile}",
            $"--Federation:Certificate={Path.Combine(dir, "cloud.pem")}",
            $"--Federation:CertificateKey={Path.Combine(dir, "cloud.key")}",
            $"--Federation:Url={CloudUrl(user)}",
            $"--Federation:Listen=127.0.0.1:{_listenerPorts[user].ToString(CultureInfo.InvariantCulture)}",
            "--Federation:AgreementCheckInterval=00:00:01",
            "--Federation:PresenceInterval=00:00:00.2",
            "--Federation:PeerPingInterval=00:00:01",
            "--Federation:PeerPingTimeout=00:00:02",
            .. peers.Select((p, i) => $"--Federation:Peers:{i}={Address(p)}"),
            .. CloudArguments(user),
        ];
        var server = ServerCommand.StartServer(dir, Path.Combine(dir, "data"), args);
        _servers[user] = server;
        var url = await server.ListeningAsync(TestContext.Current.CancellationToken);
        _admins.Remove(user, out var old);
        old?.Dispose();
        var admin = new HttpClient { BaseAddress = url };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestServers.AdminToken(Path.Combine(dir, "data")));
        _admins[user] = admin;
    }

    /// <summary>
    /// A cloud's arguments beyond its federation settings, read at each start: by default one simulated pool "main"
    /// labelled with the cloud's jurisdiction and region, metered every second.
    /// </summary>
    protected virtual IEnumerable<string> CloudArguments(string user)
    {
        var cloud = Clouds.Single(c => c.User == user);
        return
        [
            "--Fabric:Pools:main:Driver=simulated",
            $"--Fabric:Pools:main:Labels:jurisdiction={cloud.Jurisdiction}",
            $"--Fabric:Pools:main:Labels:region={cloud.Region}",
            "--Metering:Interval=00:00:01",
        ];
    }

    /// <summary>The federation CA revokes a cloud's certificate and rewrites the CRL file every cloud reads.</summary>
    public void Revoke(string user)
    {
        using var ca = FederationAuthority.Open(CaDirectory, TimeProvider.System);
        ca.Revoke(_serials[user], X509RevocationReason.KeyCompromise);
        FederationAuthority.WriteAtomically(CrlFile, ca.CreateCrl());
    }

    public async Task<PeerList> PeersAsync(string user) =>
        (await Admin(user).GetFromJsonAsync<PeerList>("/api/v1/federation/peers", WelkinJson.Client, TestContext.Current.CancellationToken))!;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var server in _servers.Values)
        {
            await server.DisposeAsync();
        }
        foreach (var admin in _admins.Values)
        {
            admin.Dispose();
        }
        foreach (var certificate in Strangers.Values)
        {
            certificate.Dispose();
        }
        if (_relay is not null)
        {
            await _relay.DisposeAsync();
        }
        if (_prosody is not null)
        {
            await _prosody.DisposeAsync();
        }
        TempDirectories.TryDelete(_root);
        GC.SuppressFinalize(this);
    }

    private void IssueCertificates()
    {
        // The CA's clock starts a month back, so that a certificate issued then has expired by now.
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow().AddDays(-30));
        using var ca = FederationAuthority.Create(CaDirectory, "federation", FederationKeyAlgorithm.Ecdsa, clock);
        Strangers["expired"] = Load(ca.Issue(new CloudIdentity("Expired", Address("expired"), UrlOf("expired")), TimeSpan.FromDays(1)));
        clock.Advance(TimeSpan.FromDays(30));
        var revoked = ca.Issue(new CloudIdentity("Revoked", Address("revoked"), UrlOf("revoked")));
        Strangers["revoked"] = Load(revoked);
        ca.Revoke(revoked.Issued.Serial, X509RevocationReason.KeyCompromise);
        // Issued for another address than the account that will present it.
        Strangers["mismatch"] = Load(ca.Issue(new CloudIdentity("Mismatch", Address("somebody"), UrlOf("mismatch"))));
        Strangers["probe"] = Load(ca.Issue(new CloudIdentity("Probe", Address("probe"), UrlOf("probe"))));
        foreach (var cloud in Clouds)
        {
            var dir = Directory.CreateDirectory(Path.Combine(_root, cloud.User)).FullName;
            var issued = ca.Issue(new CloudIdentity(cloud.Name, Address(cloud.User), CloudUrl(cloud.User)));
            _serials[cloud.User] = issued.Issued.Serial;
            File.WriteAllText(Path.Combine(dir, "cloud.pem"), issued.CertificatePem);
            FederationAuthority.WritePrivate(Path.Combine(dir, "cloud.key"), issued.PrivateKeyPem);
            FederationAuthority.WritePrivate(Path.Combine(dir, "xmpp.password"), Password + "\n");
        }
        File.WriteAllText(CrlFile, ca.CreateCrl());

        var rogueDir = Path.Combine(_root, "rogue-ca");
        using var rogue = FederationAuthority.Create(rogueDir, "federation", FederationKeyAlgorithm.Ecdsa, TimeProvider.System);
        Strangers["rogue"] = Load(rogue.Issue(new CloudIdentity("Rogue", Address("rogue"), UrlOf("rogue"))));
    }

    private static X509Certificate2 Load(CloudCredentials issued)
    {
        using var pem = X509Certificate2.CreateFromPem(issued.CertificatePem, issued.PrivateKeyPem);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}
