using System.Diagnostics;
using System.Text.Json;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

// slixmpp is an XMPP implementation independent of Welkin's: it checks that Welkin's client answers
// what another real client sends, and that Welkin's requests are understood by it.
public sealed class XmppClientSlixmppTests
{
    private static readonly Dictionary<string, string> Accounts = new() { ["alice"] = "alice-secret", ["carol"] = "carol-secret" };

    [Fact]
    public async Task SlixmppPeer_PingsAndDiscoversTheWelkinClient_AndTheWelkinClientPingsIt()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        var (aliceClient, aliceError) = await XmppClient.ConnectAsync(prosody.Options("alice", "alice-secret", "a"), cancellationToken);
        Assert.Null(aliceError);
        await using var alice = aliceClient!;

        using var peer = StartPeer(prosody, "carol@" + ProsodyServer.Domain, "carol-secret", alice.Jid);
        try
        {
            var line = await peer.StandardOutput.ReadLineAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(90), cancellationToken);
            Assert.NotNull(line);
            using var report = JsonDocument.Parse(line);
            Assert.False(report.RootElement.TryGetProperty("error", out var error), error.ToString());
            Assert.Equal("result", report.RootElement.GetProperty("ping").GetString());
            var features = report.RootElement.GetProperty("features").EnumerateArray().Select(f => f.GetString()).ToList();
            Assert.Contains("urn:xmpp:ping", features);
            Assert.Contains("http://jabber.org/protocol/disco#info", features);
            var peerJid = report.RootElement.GetProperty("jid").GetString()!;
            Assert.StartsWith("carol@xmpp.test/", peerJid, StringComparison.Ordinal);

            Assert.Null(await alice.PingAsync(peerJid, cancellationToken));

            peer.StandardInput.Close();
            await peer.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            Assert.Equal(0, peer.ExitCode);
        }
        finally
        {
            if (!peer.HasExited)
            {
                peer.Kill(entireProcessTree: true);
            }
        }

        await alice.CloseAsync(cancellationToken);
        Assert.Null(await alice.Ended);
    }

    private static Process StartPeer(ProsodyServer prosody, string jid, string password, string target)
    {
        // Debian's python3-slixmpp is installed for the system interpreter.
        var info = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Xmpp", "Scripts", "slixmpp_peer.py"), "127.0.0.1",
                     prosody.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), jid, password, prosody.CertificateFile, target })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return process;
    }
}
