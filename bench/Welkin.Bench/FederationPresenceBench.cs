using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Intercloud.Xmpp;

namespace Welkin.Bench;

/// <summary>
/// Presence propagation from a real cloud: one welkin-server federated on a private Prosody and N
/// light parties subscribed to it. Each round puts a host of the cloud in maintenance (or back) through
/// the API and times, from the request, until every party has received the cloud's signed presence
/// with the new free capacity. The cloud computes its capacity every CapacityCheckInterval (200 ms by
/// default) and publishes a change at once unless it published less than PresenceInterval ago; changes
/// here are spaced beyond that interval, at random phases of the checks.
/// </summary>
internal static class FederationPresenceBench
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(string[] args)
    {
        var parties = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
        var changes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 40;
        var interval = TimeSpan.FromMilliseconds(args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 1000);
        Console.WriteLine($"welkin-bench federation-presence: {Environment.ProcessorCount} cores, one welkin-server (Federation:PresenceInterval "
            + $"{interval.TotalMilliseconds:0} ms), {parties} subscribed parties, {changes} capacity changes, one Prosody, all on loopback");

        var root = Directory.CreateTempSubdirectory("welkin-bench-federation-").FullName;
        await using var exchange = await XmppExchange.StartAsync(parties + 1);
        var cloud = XmppExchange.BareAddress(0);
        var files = IssueCredentials(root, cloud);
        await using var server = await ServerProcess.StartAsync(root, (port, dataDir) => Settings(port, dataDir, exchange, files, interval));
        var admin = server.Client(server.AdminToken);
        var parties_ = new Party[parties];
        var clients = Array.Empty<XmppClient>();
        try
        {
            clients = await exchange.ConnectManyAsync([.. Enumerable.Range(1, parties)], index =>
            {
                var party = parties_[index - 1] = new Party();
                return exchange.Options(index) with { OnPresence = presence => party.ArriveAsync(presence, cloud, () => clients[index - 1]) };
            });
            foreach (var client in clients)
            {
                await client.SubscribeAsync(cloud, CancellationToken.None);
            }
            await WaitAsync(() => parties_.All(p => p.FreeVcpus is not null), "every party has the cloud's presence");

            var host = (await ServerProcess.ReadAsync<List<HostView>>(await admin.GetAsync("/api/v1/fabric/hosts")))[0].Name;
            var lastParty = new List<double>();
            var each = new List<double>();
            var down = false;
            for (var change = 0; change < changes; change++)
            {
                down = !down;
                var before = parties_.Select(p => p.FreeVcpus).ToArray();
                foreach (var party in parties_)
                {
                    party.Expect();
                }
                var sent = Stopwatch.GetTimestamp();
                (await admin.PostAsJsonAsync($"/api/v1/fabric/hosts/{host}/state", new HostStateRequest(down, down ? "benchmark" : null), WelkinJson.Client)).EnsureSuccessStatusCode();
                await WaitAsync(() => parties_.All(p => p.ChangedAt is not null), $"change {change + 1} reaches every party");
                var arrivals = parties_.Select(p => Stopwatch.GetElapsedTime(sent, p.ChangedAt!.Value).TotalMilliseconds).ToList();
                each.AddRange(arrivals);
                lastParty.Add(arrivals.Max());
                // Past the rate limit, at a random phase of the cloud's capacity checks: each change is measured alone.
                await Task.Delay(interval * 1.2 + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 400)));
            }

            var p99 = Percentiles.Of([.. lastParty.Order()], 0.99);
            Console.WriteLine($"  request to last party:  {Percentiles.Summary(lastParty)} changes");
            Console.WriteLine($"  request to each party:  {Percentiles.Summary(each)} arrivals");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  target p99 (last party) < 1000 ms: {(p99 < 1000 ? "met" : "NOT met")} ({p99:0.0} ms; capacity checked every 200 ms, PresenceInterval {interval.TotalMilliseconds:0} ms)"));
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
            await server.StopAsync();
            admin.Dispose();
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Files(string Ca, string Crl, string Certificate, string Key, Uri Url);

    private static Files IssueCredentials(string root, string cloud)
    {
        var url = new Uri("https://127.0.0.1:1/api/v1");
        using var ca = FederationAuthority.Create(Path.Combine(root, "ca"), "Bench federation", FederationKeyAlgorithm.Ecdsa, TimeProvider.System);
        var issued = ca.Issue(new CloudIdentity("Bench-Cloud", cloud, url));
        var files = new Files(Path.Combine(root, "ca", FederationAuthority.CertificateFile), Path.Combine(root, "crl.pem"),
            Path.Combine(root, "cloud.pem"), Path.Combine(root, "cloud.key"), url);
        File.WriteAllText(files.Certificate, issued.CertificatePem);
        FederationAuthority.WritePrivate(files.Key, issued.PrivateKeyPem);
        File.WriteAllText(files.Crl, ca.CreateCrl());
        return files;
    }

    private static Dictionary<string, object> Settings(int port, string dataDir, XmppExchange exchange, Files files, TimeSpan interval) => new()
    {
        ["Logging"] = new Dictionary<string, object>
        {
            ["LogLevel"] = new Dictionary<string, string> { ["Default"] = "Warning" },
        },
        ["Welkin"] = new Dictionary<string, object> { ["Port"] = port, ["Bind"] = "127.0.0.1", ["DataDir"] = dataDir, ["Fabric"] = "simulated" },
        ["Federation"] = new Dictionary<string, object>
        {
            ["Name"] = "Bench-Cloud",
            ["Address"] = XmppExchange.BareAddress(0),
            ["Password"] = exchange.Options(0).Password,
            ["ExchangeHost"] = "127.0.0.1",
            ["ExchangePort"] = exchange.Port,
            ["ExchangeTrust"] = exchange.CertificateFile,
            ["CaCertificate"] = files.Ca,
            ["Crl"] = files.Crl,
            ["Certificate"] = files.Certificate,
            ["CertificateKey"] = files.Key,
            ["Url"] = files.Url.AbsoluteUri,
            ["PresenceInterval"] = interval.ToString("c", CultureInfo.InvariantCulture),
        },
    };

    private static async Task WaitAsync(Func<bool> done, string what)
    {
        var waited = Stopwatch.StartNew();
        while (!done())
        {
            if (waited.Elapsed > Patience)
            {
                throw new TimeoutException($"Not within {Patience.TotalSeconds:0} s: {what}.");
            }
            await Task.Delay(2);
        }
    }

    /// <summary>One subscribed party: the free vCPUs of the cloud's last presence, and when it first changed after <see cref="Expect"/>.</summary>
    private sealed class Party
    {
        private long? _freeVcpus;
        private long? _expectFrom;
        private long _changedAt;

        public long? FreeVcpus => _freeVcpus;

        public long? ChangedAt => Interlocked.Read(ref _changedAt) is var at && at > 0 ? at : null;

        public void Expect()
        {
            _expectFrom = _freeVcpus;
            Interlocked.Exchange(ref _changedAt, 0);
        }

        public async Task ArriveAsync(XmppPresence presence, string cloud, Func<XmppClient> self)
        {
            if (presence.BareFrom != cloud)
            {
                return;
            }
            if (presence.Type == "subscribe")
            {
                await self().ApproveSubscriptionAsync(cloud, CancellationToken.None);
                return;
            }
            if (presence.Type is not null || presence.Payload(CloudPresence.ElementName) is not { } payload)
            {
                return;
            }
            var now = Stopwatch.GetTimestamp();
            var (parsed, _, _) = CloudPresence.Parse(payload);
            if (parsed is null)
            {
                return;
            }
            var free = parsed.Capacity.Regions.Sum(r => r.FreeVcpus);
            if (_expectFrom is { } from && free != from && Interlocked.Read(ref _changedAt) == 0)
            {
                Interlocked.Exchange(ref _changedAt, now);
            }
            _freeVcpus = free;
        }
    }
}
