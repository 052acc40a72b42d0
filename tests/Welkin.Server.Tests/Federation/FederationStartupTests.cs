using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Welkin.Intercloud.Trust;
using Welkin.Server.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>A federation configuration the server cannot use refuses the start in one line, before the data directory is touched.</summary>
public sealed class FederationStartupTests : IDisposable
{
    private readonly string _root = Directory.CreateDirectory(TempDirectories.NewPath("welkin-fedstart-")).FullName;

    public FederationStartupTests()
    {
        using var ca = FederationAuthority.Create(Path.Combine(_root, "ca"), "Test federation CA", FederationKeyAlgorithm.Ecdsa, TimeProvider.System);
        var cloud = ca.Issue(new CloudIdentity("Home", "home@exchange.test", new Uri("https://127.0.0.1:8443/federation/v1")));
        File.WriteAllText(Path.Combine(_root, "cloud.pem"), cloud.CertificatePem);
        FederationAuthority.WritePrivate(Path.Combine(_root, "cloud.key"), cloud.PrivateKeyPem);
        File.WriteAllText(Path.Combine(_root, "crl.pem"), ca.CreateCrl());
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DataDir => Path.Combine(_root, "data");

    public void Dispose() => TempDirectories.TryDelete(_root);

    [Fact]
    public async Task UnparsableListen_ExitsTwoInOneLine()
    {
        var (exit, error) = await StartAsync(("Federation__Listen", "federation.example"));

        exit.ShouldBe(ServerExitCodes.Usage);
        error.ShouldBe("welkin-server: Federation:Listen 'federation.example' is not an IP address and port, e.g. 127.0.0.1:8443 or [::]:8443\n");
    }

    [Fact]
    public async Task MissingCertificateSettings_ExitTwoNamingThem()
    {
        var (exit, error) = await StartAsync(("Federation__Certificate", ""), ("Federation__CertificateKey", ""));

        exit.ShouldBe(ServerExitCodes.Usage);
        error.ShouldBe("welkin-server: federation: home@exchange.test is set but Federation:Certificate, Federation:CertificateKey are missing\n");
    }

    [Fact]
    public async Task KeyThatIsNotTheCertificates_ExitsTwoInOneLine()
    {
        using var other = FederationAuthority.Create(Path.Combine(_root, "other"), "Other", FederationKeyAlgorithm.Ecdsa, TimeProvider.System);
        FederationAuthority.WritePrivate(Path.Combine(_root, "other.key"), other.Issue(new CloudIdentity("Other", "other@exchange.test", new Uri("https://other.test/"))).PrivateKeyPem);

        var (exit, error) = await StartAsync(("Federation__CertificateKey", Path.Combine(_root, "other.key")));

        exit.ShouldBe(ServerExitCodes.Usage);
        error.ShouldStartWith("welkin-server: the federation credentials cannot be loaded: ");
        error.Count(c => c == '\n').ShouldBe(1);
    }

    [Fact]
    public async Task MissingCaFile_ExitsTwoInOneLine()
    {
        var absent = Path.Combine(_root, "absent.pem");
        var (exit, error) = await StartAsync(("Federation__CaCertificate", absent));

        exit.ShouldBe(ServerExitCodes.Usage);
        error.ShouldBe($"welkin-server: federation: the file of Federation:CaCertificate, {absent}, does not exist\n");
    }

    [Fact]
    public async Task ListenerPortInUse_ExitsThreeInOneLine()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (exit, error) = await StartAsync(("Federation__Listen", $"127.0.0.1:{port}"));

        exit.ShouldBe(ServerExitCodes.CannotListen);
        error.ShouldBe($"welkin-server: the federation listener's address 127.0.0.1:{port} (Federation:Listen) is in use\n");
    }

    private async Task<(int Exit, string Error)> StartAsync(params (string Key, string Value)[] overrides)
    {
        var environment = new Dictionary<string, string>
        {
            ["Federation__Address"] = "home@exchange.test",
            ["Federation__Name"] = "Home",
            ["Federation__Url"] = "https://127.0.0.1:8443/federation/v1",
            ["Federation__Password"] = "no-exchange-here",
            ["Federation__ExchangeTrust"] = Path.Combine(_root, "ca", FederationAuthority.CertificateFile),
            ["Federation__Listen"] = "127.0.0.1:" + Loopback.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Federation__CaCertificate"] = Path.Combine(_root, "ca", FederationAuthority.CertificateFile),
            ["Federation__Crl"] = Path.Combine(_root, "crl.pem"),
            ["Federation__Certificate"] = Path.Combine(_root, "cloud.pem"),
            ["Federation__CertificateKey"] = Path.Combine(_root, "cloud.key"),
        };
        foreach (var (key, value) in overrides)
        {
            environment[key] = value;
        }
        await using var server = ServerCommand.Start(_root, ["--port", "0", "--data-dir", DataDir], environment);
        var exit = await server.ExitCodeAsync(Ct);
        Directory.Exists(DataDir).ShouldBeFalse(server.StandardError + server.Output);
        return (exit, server.StandardError);
    }
}
