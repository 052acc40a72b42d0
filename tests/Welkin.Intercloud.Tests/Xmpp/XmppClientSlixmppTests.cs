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
    public async Task SlixmppPeer_PingsAndDiscoversTheWelkinClient_VerifiesItsCapabilities_AndTheWelkinClientPingsIt()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var prosody = await ProsodyServer.StartAsync("SHA-256", Accounts);
        XmppClient? approver = null;
        var options = prosody.Options("alice", "alice-secret", "a") with
        {
            Features = ["urn:example:welkin"],
            OnPresence = presence => presence.Type == "subscribe" && approver is not null
                ? approver.ApproveSubscriptionAsync(presence.BareFrom, CancellationToken.None)
                : Task.CompletedTask,
        };
        var (aliceClient, aliceError) = await XmppClient.ConnectAsync(options, cancellationToken);
        approver = aliceClient;
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
            Assert.Equal(0, report.RootElement.GetProperty("items").GetInt32());
            var presenceCaps = report.RootElement.GetProperty("presence_caps");
            Assert.Equal("https://welkin.dev/federation", presenceCaps.GetProperty("node").GetString());
            Assert.Equal("sha-1", presenceCaps.GetProperty("hash").GetString());
            var caps = report.RootElement.GetProperty("caps");
            Assert.False(caps.TryGetProperty("error", out var capsError), capsError.ToString());
            Assert.Equal(presenceCaps.GetProperty("ver").GetString(), caps.GetProperty("ver").GetString());
            var capsFeatures = caps.GetProperty("features").EnumerateArray().Select(f => f.GetString()).ToList();
            Assert.Contains("urn:example:welkin", capsFeatures);
            Assert.Contains("http://jabber.org/protocol/caps", capsFeatures);
            Assert.Contains("http://jabber.org/protocol/disco#items", capsFeatures);
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
