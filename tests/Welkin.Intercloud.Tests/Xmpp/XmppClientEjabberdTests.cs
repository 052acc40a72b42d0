using Welkin.Intercloud.Xmpp;
using Welkin.Testing.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

// Against a real ejabberd, which offers PLAIN, SCRAM-SHA-256-PLUS and SCRAM-SHA-256.
public sealed class XmppClientEjabberdTests
{
    private static readonly Dictionary<string, string> Accounts = new() { ["alice"] = "alice-secret", ["bob"] = "bob-secret" };

    [Fact]
    public async Task TwoClients_LogInWithScramSha256_PingEachOther_AndCloseCleanly()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var ejabberd = await EjabberdServer.StartAsync(Accounts);

        var (aliceClient, aliceError) = await XmppClient.ConnectAsync(ejabberd.Options("alice", "alice-secret", "a"), cancellationToken);
        var (bobClient, bobError) = await XmppClient.ConnectAsync(ejabberd.Options("bob", "bob-secret", "b"), cancellationToken);
        Assert.Null(aliceError);
        Assert.Null(bobError);
        await using var alice = aliceClient!;
        await using var bob = bobClient!;

        // Channel binding (-PLUS) is not implemented, so SCRAM-SHA-256 is the strongest mechanism both share.
        Assert.Equal(ScramMechanism.ScramSha256, alice.Mechanism);
        Assert.Equal(ScramMechanism.ScramSha256, bob.Mechanism);
        Assert.Equal("alice@xmpp.test/a", alice.Jid);
        Assert.Null(await alice.PingAsync(bob.Jid, cancellationToken));
        Assert.Null(await bob.PingAsync(alice.Jid, cancellationToken));
        Assert.Null(await bob.PingAsync(EjabberdServer.Domain, cancellationToken));

        await alice.CloseAsync(cancellationToken);
        await bob.CloseAsync(cancellationToken);
        Assert.Null(await alice.Ended);
        Assert.Null(await bob.Ended);
    }
}
