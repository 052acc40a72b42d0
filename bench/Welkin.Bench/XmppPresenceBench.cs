using System.Diagnostics;
using System.Globalization;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;

namespace Welkin.Bench;

/// <summary>
/// Presence propagation through a private Prosody: one publishing party and N subscribed parties
/// (subscriptions approved both ways, as between clouds). The publisher sends paced presence
/// updates carrying a capacity payload with a sequence number; each party records when each
/// update reached its presence callback. Printed: p50/p99 of the time from send until the last
/// party had it, and of every single arrival.
/// </summary>
internal static class XmppPresenceBench
{
    private const int WarmUpUpdates = 20;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static async Task RunAsync(string[] args)
    {
        var parties = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
        var updates = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;
        var interval = TimeSpan.FromMilliseconds(args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 50);
        Console.WriteLine($"welkin-bench xmpp-presence: {Environment.ProcessorCount} cores, {parties} subscribed parties, "
            + $"{updates} updates every {interval.TotalMilliseconds:0} ms (after {WarmUpUpdates} unmeasured), one Prosody, all on loopback");

        var setup = Stopwatch.StartNew();
        await using var exchange = await XmppExchange.StartAsync(parties + 1);
        var total = WarmUpUpdates + updates;
        var arrivals = new long[parties, total];
        var subscribed = new Subscriptions(2 * parties);
        XmppClient? publisher = null;
        var publisherAddress = XmppExchange.BareAddress(0);
        var clients = Array.Empty<XmppClient>();
        try
        {
            publisher = await exchange.ConnectAsync(exchange.Options(0) with
            {
                OnPresence = async presence =>
                {
                    // A subscription request from a party is approved, and answered with the publisher's own request.
                    if (presence.Type == "subscribe")
                    {
                        await publisher!.ApproveSubscriptionAsync(presence.BareFrom, CancellationToken.None);
                        await publisher.SubscribeAsync(presence.BareFrom, CancellationToken.None);
                    }
                    else if (presence.Type is null)
                    {
                        subscribed.Approved(presence.BareFrom, publisherAddress);
                    }
                },
            });
            clients = await exchange.ConnectManyAsync([.. Enumerable.Range(1, parties)], index => exchange.Options(index) with
            {
                OnPresence = presence => Arrive(presence, index - 1),
            });
            Console.WriteLine($"  {parties + 1} accounts registered and logged in after {setup.Elapsed.TotalSeconds:0.0} s");

            async Task Arrive(XmppPresence presence, int party)
            {
                if (presence.BareFrom != publisherAddress)
                {
                    return;
                }

                if (presence.Type is null)
                {
                    subscribed.Approved(publisherAddress, XmppExchange.BareAddress(party + 1));
                }

                if (presence.Type is null && presence.Payload(XmppExchange.Federation + "capacity")?.Attribute("seq") is { } seq
                    && int.TryParse(seq.Value, CultureInfo.InvariantCulture, out var n) && n >= 0 && n < total && arrivals[party, n] == 0)
                {
                    Volatile.Write(ref arrivals[party, n], Stopwatch.GetTimestamp());
                }
                else if (presence.Type == "subscribe")
                {
                    await clients[party].ApproveSubscriptionAsync(publisherAddress, CancellationToken.None);
                }
            }

            foreach (var client in clients)
            {
                await client.SubscribeAsync(publisherAddress, CancellationToken.None);
            }

            if (await Task.WhenAny(subscribed.Complete, Task.Delay(Patience)) != subscribed.Complete)
            {
                throw new InvalidOperationException($"Subscriptions incomplete after {Patience.TotalSeconds} s: {subscribed.Count} of {2 * parties} in place.");
            }

            var sent = await PublishAsync(publisher, total, interval, arrivals, parties);
            Report(arrivals, sent, parties);
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
            if (publisher is not null)
            {
                await publisher.DisposeAsync();
            }
        }
    }

    private static async Task<long[]> PublishAsync(XmppClient publisher, int total, TimeSpan interval, long[,] arrivals, int parties)
    {
        var sent = new long[total];
        var clock = Stopwatch.StartNew();
        for (var n = 0; n < total; n++)
        {
            var due = interval * (n < WarmUpUpdates ? n : n - WarmUpUpdates);
            if (due > clock.Elapsed)
            {
                await Task.Delay(due - clock.Elapsed);
            }

            if (n == WarmUpUpdates)
            {
                // Measurement starts once every party has had the warm-up: the subscriptions are in place everywhere.
                await WaitForAsync(arrivals, parties, n - 1);
                clock.Restart();
            }

            sent[n] = Stopwatch.GetTimestamp();
            await publisher.SendPresenceAsync([Capacity(n)], CancellationToken.None);
        }

        await WaitForAsync(arrivals, parties, total - 1);
        return sent;
    }

    private static XElement Capacity(int sequence) =>
        new(XmppExchange.Federation + "capacity", new XAttribute("seq", sequence),
            new XElement(XmppExchange.Federation + "free", new XAttribute("jurisdiction", "DE"), new XAttribute("region", "eu-central"),
                new XAttribute("vcpus", 1000 - sequence % 100), new XAttribute("memory-mib", 4_096_000), new XAttribute("storage-gib", 80_000)),
            new XElement(XmppExchange.Federation + "offerings", new XAttribute("count", 12)));

    /// <summary>Waits (at most a minute) until every party has update <paramref name="sequence"/>; the report counts what never came.</summary>
    private static async Task WaitForAsync(long[,] arrivals, int parties, int sequence)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < Patience && Enumerable.Range(0, parties).Any(p => Volatile.Read(ref arrivals[p, sequence]) == 0))
        {
            await Task.Delay(10);
        }
    }

    private static void Report(long[,] arrivals, long[] sent, int parties)
    {
        var perArrival = new List<double>();
        var lastParty = new List<double>();
        var missing = 0;
        var incomplete = 0;
        for (var n = WarmUpUpdates; n < sent.Length; n++)
        {
            var latest = 0.0;
            var complete = true;
            for (var p = 0; p < parties; p++)
            {
                if (arrivals[p, n] == 0)
                {
                    missing++;
                    complete = false;
                    continue;
                }

                var ms = Stopwatch.GetElapsedTime(sent[n], arrivals[p, n]).TotalMilliseconds;
                perArrival.Add(ms);
                latest = Math.Max(latest, ms);
            }

            if (complete)
            {
                lastParty.Add(latest);
            }
            else
            {
                incomplete++;
            }
        }

        var sortedLast = lastParty.Order().ToArray();
        var p99 = Percentiles.Of(sortedLast, 0.99);
        Console.WriteLine($"  send to last party:  {Percentiles.Summary(lastParty)} updates, {incomplete} never reached every party");
        Console.WriteLine($"  send to each party:  {Percentiles.Summary(perArrival)} arrivals, {missing} missing");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  target p99 (last party) < 1000 ms: {(incomplete == 0 && p99 < 1000 ? "met" : "NOT met")} ({p99:0.0} ms)"));
    }

    /// <summary>
    /// Subscriptions in place, each counted once: a party's available presence reaching the other is
    /// the sign (RFC 6121 3.1.6), since an approval itself reaches only resources that asked for the roster.
    /// </summary>
    private sealed class Subscriptions(int expected)
    {
        private readonly HashSet<(string Approver, string Subscriber)> _seen = [];
        private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Complete => _complete.Task;

        public int Count
        {
            get
            {
                lock (_seen)
                {
                    return _seen.Count;
                }
            }
        }

        public void Approved(string approver, string subscriber)
        {
            lock (_seen)
            {
                if (_seen.Add((approver, subscriber)) && _seen.Count == expected)
                {
                    _complete.TrySetResult();
                }
            }
        }
    }
}
