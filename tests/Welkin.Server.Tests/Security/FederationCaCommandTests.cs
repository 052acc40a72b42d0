using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Welkin.Intercloud.Trust;
using Welkin.Server.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Security;

public sealed class FederationCaCommandTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly Uri AlphaUrl = new("https://alpha.example:8443/api/v1");

    private readonly string _root = TempDirectories.NewPath("welkin-fedca-");
    private readonly FakeTimeProvider _clock = new();
    private TimeProvider _commandClock;

    public FederationCaCommandTests()
    {
        _commandClock = _clock;
        Directory.CreateDirectory(_root);
    }

    public void Dispose() => TempDirectories.TryDelete(_root);

    private string Ca => Path.Combine(_root, "ca");

    private async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var exit = await FederationCaCommand.RunAsync(args, output, _commandClock);
        return (exit, output.ToString());
    }

    private async Task<string> IssueAsync(string name)
    {
        var (exit, output) = await RunAsync("issue", "--dir", Ca, "--cloud", name, "--xmpp", $"cloud@{name}.example", "--url", $"https://{name}.example:8443/api/v1", "--out", Path.Combine(_root, name));
        exit.ShouldBe(0, output);
        return Path.Combine(_root, name);
    }

    [Theory]
    [InlineData("ecdsa")]
    [InlineData("rsa")]
    public async Task InitIssueCrl_WritesOwnerOnlyKeysAndACertificateThePeerVerifierTrusts(string algorithm)
    {
        (await RunAsync("init", "--dir", Ca, "--algorithm", algorithm)).Exit.ShouldBe(0);
        var alpha = await IssueAsync("alpha");
        var crlFile = Path.Combine(_root, "crl.pem");
        (await RunAsync("crl", "--dir", Ca, "--out", crlFile)).Exit.ShouldBe(0);

        File.GetUnixFileMode(Path.Combine(Ca, FederationAuthority.KeyFile)).ShouldBe(OwnerOnly);
        File.GetUnixFileMode(Path.Combine(alpha, FederationCaCommand.CloudKeyFile)).ShouldBe(OwnerOnly);
        File.ReadAllText(Path.Combine(alpha, FederationAuthority.CertificateFile)).ShouldBe(File.ReadAllText(Path.Combine(Ca, FederationAuthority.CertificateFile)));
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(Ca, FederationAuthority.CertificateFile)));
        using var peer = X509Certificate2.CreateFromPemFile(Path.Combine(alpha, FederationCaCommand.CloudCertificateFile), Path.Combine(alpha, FederationCaCommand.CloudKeyFile));
        peer.HasPrivateKey.ShouldBeTrue();
        var crl = FederationCrl.Load(File.ReadAllBytes(crlFile), ca);
        var verdict = new PeerVerifier(ca, crl, _clock).Verify(peer, "cloud@alpha.example", AlphaUrl);
        verdict.Kind.ShouldBe(PeerVerdictKind.Trusted, verdict.Reason);
    }

    [Fact]
    public async Task Revoke_ThenCrl_OpenSslAcceptsTheGoodCertificateAndRefusesTheRevokedOne()
    {
        // openssl judges at the real time, so this CA works on the real clock.
        _commandClock = TimeProvider.System;
        (await RunAsync("init", "--dir", Ca)).Exit.ShouldBe(0);
        var alpha = await IssueAsync("alpha");
        var beta = await IssueAsync("beta");
        using var betaCertificate = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(beta, FederationCaCommand.CloudCertificateFile)));
        var (revokeExit, revokeOutput) = await RunAsync("revoke", "--dir", Ca, "--serial", betaCertificate.SerialNumber, "--reason", "keyCompromise");
        revokeExit.ShouldBe(0, revokeOutput);
        var crlFile = Path.Combine(_root, "crl.pem");
        (await RunAsync("crl", "--dir", Ca, "--out", crlFile)).Exit.ShouldBe(0);

        var (goodExit, goodOutput) = await OpenSslVerifyAsync(crlFile, Path.Combine(alpha, FederationCaCommand.CloudCertificateFile));
        var (badExit, badOutput) = await OpenSslVerifyAsync(crlFile, Path.Combine(beta, FederationCaCommand.CloudCertificateFile));

        goodExit.ShouldBe(0, goodOutput);
        goodOutput.ShouldContain(": OK");
        badExit.ShouldNotBe(0);
        badOutput.ShouldContain("certificate revoked");
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(Ca, FederationAuthority.CertificateFile)));
        var verdict = new PeerVerifier(ca, FederationCrl.Load(File.ReadAllBytes(crlFile), ca), TimeProvider.System)
            .Verify(betaCertificate, "cloud@beta.example", new Uri("https://beta.example:8443/api/v1"));
        verdict.Kind.ShouldBe(PeerVerdictKind.Revoked);
        verdict.Revocation!.Reason.ShouldBe(X509RevocationReason.KeyCompromise);
    }

    [Fact]
    public async Task Init_WhenCaExists_ExitsOneAndKeepsTheKey()
    {
        (await RunAsync("init", "--dir", Ca)).Exit.ShouldBe(0);
        var key = File.ReadAllText(Path.Combine(Ca, FederationAuthority.KeyFile));

        var (exit, output) = await RunAsync("init", "--dir", Ca);

        exit.ShouldBe(1);
        output.ShouldContain("already exists");
        File.ReadAllText(Path.Combine(Ca, FederationAuthority.KeyFile)).ShouldBe(key);
    }

    [Fact]
    public async Task RevokeAndIssue_Refused_ExitOne()
    {
        (await RunAsync("init", "--dir", Ca)).Exit.ShouldBe(0);
        var alpha = await IssueAsync("alpha");

        (await RunAsync("revoke", "--dir", Ca, "--serial", "01")).Exit.ShouldBe(1);
        (await RunAsync("issue", "--dir", Ca, "--cloud", "alpha", "--xmpp", "cloud@alpha.example", "--url", AlphaUrl.ToString(), "--out", alpha)).Exit.ShouldBe(1);
        (await RunAsync("issue", "--dir", Path.Combine(_root, "none"), "--cloud", "a", "--xmpp", "cloud@a.example", "--url", AlphaUrl.ToString(), "--out", Path.Combine(_root, "x"))).Exit.ShouldBe(1);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sign")]
    [InlineData("init")]
    [InlineData("init --dir")]
    [InlineData("init --dir d --algorithm dsa")]
    [InlineData("issue --dir d --cloud a --xmpp cloud@a.example --url not-a-url --out o")]
    [InlineData("issue --dir d --cloud a --xmpp cloud@a.example --url https://a.example/ --out o --days 0")]
    [InlineData("issue --dir d --cloud a --xmpp a.example --url https://a.example/ --out o")]
    [InlineData("issue --dir d --cloud a --xmpp cloud@a.example/welkin --url https://a.example/ --out o")]
    [InlineData("issue --dir d --cloud a --xmpp cloud@a_b.example --url https://a.example/ --out o")]
    [InlineData("issue --dir d --cloud a --xmpp a:b@a.example --url https://a.example/ --out o")]
    [InlineData("revoke --dir d --serial 01 --reason 3")]
    [InlineData("revoke --dir d --serial 01 --reason whatever")]
    [InlineData("crl --dir d")]
    [InlineData("crl --dir d --out f --bogus x")]
    public async Task BadArguments_ExitTwoWithUsage(string args)
    {
        var (exit, output) = await RunAsync(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        exit.ShouldBe(2);
        output.ShouldContain("usage: welkin-server federation ca");
    }

    [Fact]
    public async Task Issue_ForAnAddressThatIsNotBare_SaysWhy()
    {
        var (exit, output) = await RunAsync("issue", "--dir", Ca, "--cloud", "a", "--xmpp", "cloud@exa mple", "--url", "https://a.example/", "--out", Path.Combine(_root, "a"));

        exit.ShouldBe(2);
        output.ShouldStartWith("--xmpp 'cloud@exa mple' is not a bare XMPP address (cloud@domain): the domainpart is not a DNS name (label 'exa mple')");
    }

    private static async Task<(int Exit, string Output)> OpenSslVerifyAsync(string crl, string certificate)
    {
        var caFile = Path.Combine(Path.GetDirectoryName(certificate)!, FederationAuthority.CertificateFile);
        var start = new ProcessStartInfo("openssl", ["verify", "-CAfile", caFile, "-crl_check", "-CRLfile", crl, certificate])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
