using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>scripts/federation-demo.sh as a user runs it: three clouds that find each other, and nothing left behind after Ctrl-C.</summary>
public sealed class FederationDemoScriptTests : IAsyncDisposable
{
    // Printed last, after the clouds found each other and the mutual-TLS call answered.
    private const string ReadyLine = "federation-demo: running; Ctrl-C stops everything";

    // A guard against a hung script (it installs packages and starts four servers), not a performance claim.
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    private readonly string _dir = TempDirectories.NewPath("welkin-federation-demo-");
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _script;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Script_StartsThreeCloudsThatListEachOtherOnlineAndTrusted_AndSigintStopsEverything()
    {
        var basePort = Loopback.FreePortRange(14);
        Start(basePort);
        await _ready.Task.WaitAsync(Patience, Ct);

        var clouds = new[] { ("us", "ProviderCo-US", "US"), ("de", "ProviderCo-DE", "DE"), ("coc", "CloudCoC", "GB") };
        for (var i = 0; i < clouds.Length; i++)
        {
            var (user, name, _) = clouds[i];
            using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{basePort + i + 1}") };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestServers.AdminToken(Path.Combine(_dir, user, "data")));
            var list = (await admin.GetFromJsonAsync<PeerList>("/api/v1/federation/peers", WelkinJson.Client, Ct))!;

            list.Federation.ShouldBe("on");
            list.Address.ShouldBe($"{user}@exchange.welkin.test");
            var others = clouds.Where(c => c.Item2 != name).ToArray();
            list.Peers.Select(p => p.Name).Order(StringComparer.Ordinal).ShouldBe(others.Select(c => c.Item2).Order(StringComparer.Ordinal));
            foreach (var peer in list.Peers)
            {
                peer.Online.ShouldBeTrue(peer.Address);
                peer.Trust.ShouldBe(PeerTrustState.Trusted, peer.Reason);
                peer.Capacity!.Regions.Single().Jurisdiction.ShouldBe(others.Single(c => c.Item2 == peer.Name).Item3);
            }
        }
        Output.ShouldContain("every cloud lists the other two as online and trusted");
        Output.ShouldContain("\"name\": \"ProviderCo-US\"", customMessage: "the mutual-TLS call names its caller");
        var started = TestGuest.ProcessesMentioning(_dir);
        started.Count.ShouldBeGreaterThanOrEqualTo(5, "the script, Prosody (and runuser) and three servers");

        await ExternalTools.RunAsync("kill", ["-INT", _script!.Id.ToString(CultureInfo.InvariantCulture)]);
        await _script.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromMinutes(2), Ct);

        _script.ExitCode.ShouldBe(130, Output);
        Output.ShouldContain("federation-demo: stopped");
        TestGuest.ProcessesMentioning(_dir).ShouldBeEmpty(Output);
    }

    public async ValueTask DisposeAsync()
    {
        if (_script is { HasExited: false })
        {
            _script.Kill(entireProcessTree: true);
            await _script.WaitForExitAsync();
        }
        _script?.Dispose();
        TempDirectories.TryDelete(_dir);
    }

    private string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Start(int basePort)
    {
        // A shell that starts the test host in the background leaves SIGINT ignored, and bash cannot
        // trap a signal ignored on entry; env restores the default, as in a terminal.
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            "--default-signal=INT", "bash", Repository.Path("scripts", "federation-demo.sh"), "--dir", _dir,
            "--base-port", basePort.ToString(CultureInfo.InvariantCulture), "--server", Path.Combine(AppContext.BaseDirectory, "welkin-server.dll"),
        })
        {
            start.ArgumentList.Add(arg);
        }
        _script = new Process { StartInfo = start };
        _script.OutputDataReceived += (_, e) => Read(e.Data);
        _script.ErrorDataReceived += (_, e) => Read(e.Data);
        _script.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException("The script ended before its clouds were ready:\n" + Output));
        _script.EnableRaisingEvents = true;
        _script.Start();
        _script.BeginOutputReadLine();
        _script.BeginErrorReadLine();
    }

    private void Read(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        if (line.Contains(ReadyLine, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }
}
