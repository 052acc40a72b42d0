using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

// Against a real Prosody, which offers one SCRAM mechanism chosen by its password_hash setting.
public sealed class XmppClientProsodyTests
{
    private static readonly Dictionary<string, string> Accounts = new() { ["alice"] = "alice-secret", ["bob"] = "bob-secret" };

    [Fact]
    public Task Login_WhenProsodyHashesWithSha256_UsesScramSha256_AndTwoClientsExchangeIqs() =>
        LoginAndExchangeAsync("SHA-256", ScramMechanism.ScramSha256);

    [Fact]
    public Task Login_WhenProsodyHashesByDefault_UsesScramSha1_AndTwoClientsExchangeIqs() =>
        LoginAndExchangeAsync(null, ScramMechanism.ScramSha1);

    [Fact]
    public async Task Login_WithAWrongPassword_FailsWithAnAuthenticationError()
    {
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);

        var (client, error) = await XmppClient.ConnectAsync(prosody.Options("alice", "wrong", "w"), TestContext.Current.CancellationToken);

        Assert.Null(client);
        Assert.Equal("xmpp-auth-failed", error?.Code);
        Assert.Contains("not-authorized", error!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_WhenTheServerCertificateIsNotTheTrustedOne_FailsBeforeAuthenticating()
    {
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        var stranger = await prosody.MakeStrangerCertificateAsync();
        var options = prosody.Options("alice", "alice-secret", "w") with { TrustAnchors = XmppClientOptions.LoadTrustAnchors(stranger) };

        var (client, error) = await XmppClient.ConnectAsync(options, TestContext.Current.CancellationToken);

        Assert.Null(client);
        Assert.Equal("xmpp-tls-untrusted", error?.Code);
    }

    private static async Task LoginAndExchangeAsync(string? passwordHash, ScramMechanism expected)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync(passwordHash, Accounts);

        var (aliceClient, aliceError) = await XmppClient.ConnectAsync(prosody.Options("alice", "alice-secret", "a"), cancellationToken);
        var (bobClient, bobError) = await XmppClient.ConnectAsync(prosody.Options("bob", "bob-secret", "b"), cancellationToken);
        Assert.Null(aliceError);
        Assert.Null(bobError);
        await using var alice = aliceClient!;
        await using var bob = bobClient!;

        Assert.Equal(expected, alice.Mechanism);
        Assert.Equal("bob@xmpp.test/b", bob.Jid);
        Assert.Null(await alice.PingAsync(bob.Jid, cancellationToken));
        Assert.Null(await bob.PingAsync(ProsodyServer.Domain, cancellationToken));
        var (info, infoError) = await alice.QueryAsync(bob.Jid, "get", new XElement(XName.Get("query", "http://jabber.org/protocol/disco#info")), cancellationToken);
        Assert.Null(infoError);
        Assert.Contains(info!.Descendants(), e => e.Attribute("var")?.Value == "urn:xmpp:ping");
        var (_, unknownError) = await alice.QueryAsync(bob.Jid, "get", new XElement(XName.Get("query", "urn:example:unknown")), cancellationToken);
        Assert.Contains("service-unavailable", unknownError?.Detail, StringComparison.Ordinal);

        await alice.CloseAsync(cancellationToken);
        Assert.Null(await alice.Ended);
    }
}
