using Welkin.Intercloud.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

public sealed class ScramClientTests
{
    [Fact]
    public void ScramSha1_Rfc5802Example_ProducesTheRfcProofAndAcceptsTheServerSignature()
    {
        var client = new ScramClient(ScramMechanism.ScramSha1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");

        Assert.Equal("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", client.ClientFirst());
        var (final, error) = client.ClientFinal("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
        Assert.Null(error);
        Assert.Equal("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", final);
        Assert.Null(client.VerifyServerFinal("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
    }

    [Fact]
    public void ScramSha256_Rfc7677Example_ProducesTheRfcProofAndAcceptsTheServerSignature()
    {
        var client = new ScramClient(ScramMechanism.ScramSha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");

        Assert.Equal("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", client.ClientFirst());
        var (final, error) = client.ClientFinal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
        Assert.Null(error);
        Assert.Equal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", final);
        Assert.Null(client.VerifyServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    }

    [Fact]
    public void VerifyServerFinal_WhenTheSignatureIsWrong_ReturnsAnError()
    {
        var client = new ScramClient(ScramMechanism.ScramSha1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
        client.ClientFinal("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");

        Assert.Equal("xmpp-server-unverified", client.VerifyServerFinal("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")?.Code);
        Assert.Equal("xmpp-auth-failed", client.VerifyServerFinal("e=invalid-proof")?.Code);
    }

    [Fact]
    public void ClientFinal_WhenTheServerNonceDoesNotExtendTheClients_ReturnsAnError()
    {
        var client = new ScramClient(ScramMechanism.ScramSha1, "user", "pencil", "abc");

        var (final, error) = client.ClientFinal("r=xyz123,s=QSXCR+Q6sek8bf92,i=4096");

        Assert.Null(final);
        Assert.Equal("xmpp-protocol", error?.Code);
    }

    [Fact]
    public void ClientFirst_EscapesCommaAndEqualsInTheUsername_AndDrawsAFreshNonce()
    {
        var first = new ScramClient(ScramMechanism.ScramSha256, "a,b=c", "x").ClientFirst();
        var second = new ScramClient(ScramMechanism.ScramSha256, "a,b=c", "x").ClientFirst();

        Assert.StartsWith("n,,n=a=2Cb=3Dc,r=", first, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Strongest_PrefersSha256_NeverPicksPlain()
    {
        Assert.Equal(ScramMechanism.ScramSha256, ScramClient.Strongest(["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"]));
        Assert.Equal(ScramMechanism.ScramSha1, ScramClient.Strongest(["PLAIN", "SCRAM-SHA-1"]));
        Assert.Null(ScramClient.Strongest(["PLAIN"]));
    }
}
