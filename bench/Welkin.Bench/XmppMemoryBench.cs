using System.Globalization;

namespace Welkin.Bench;

/// <summary>
/// Memory per connected peer: this process holds 1, then more, logged-in XMPP sessions (each its
/// own account on a private Prosody, TLS and a read loop as a cloud's connection has); after each
/// step, the managed heap after a full collection and the process's resident set, against the
/// same taken before the first session, divided by the sessions held; and Prosody's resident set
/// per session the same way.
/// </summary>
internal static class XmppMemoryBench
{
    public static async Task RunAsync(string[] args)
    {
        var counts = (args.Length > 0 ? args[0] : "1,50,200").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).Order().ToArray();
        Console.WriteLine($"welkin-bench xmpp-memory: {Environment.ProcessorCount} cores, sessions held {string.Join(", ", counts)}");
        await using var exchange = await XmppExchange.StartAsync(counts[^1] + 1);
        var held = new List<Intercloud.Xmpp.XmppClient>();
        try
        {
            // One session opened and closed first, so code loaded and compiled for it is not counted per peer.
            await (await exchange.ConnectAsync(exchange.Options(counts[^1]))).DisposeAsync();
            var before = await SnapshotAsync(exchange);
            Console.WriteLine($"  before: managed {Mib(before.Managed)}, process RSS {Mib(before.Resident)}, Prosody RSS {Mib(before.Prosody)}");
            foreach (var count in counts)
            {
                held.AddRange(await exchange.ConnectManyAsync([.. Enumerable.Range(held.Count, count - held.Count)], exchange.Options));
                var now = await SnapshotAsync(exchange);
                Console.WriteLine($"  {count,4} sessions: managed {Mib(now.Managed)} = {PerPeer(now.Managed - before.Managed, count)}/peer | "
                    + $"process RSS {Mib(now.Resident)} = {PerPeer(now.Resident - before.Resident, count)}/peer | "
                    + $"Prosody RSS {Mib(now.Prosody)} = {PerPeer(now.Prosody - before.Prosody, count)}/session");
            }
        }
        finally
        {
            await Task.WhenAll(held.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    private sealed record Snapshot(long Managed, long Resident, long Prosody);

    private static async Task<Snapshot> SnapshotAsync(XmppExchange exchange)
    {
        // Let logins' last stanzas (presence, roster pushes) settle before measuring.
        await Task.Delay(TimeSpan.FromSeconds(2));
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return new Snapshot(GC.GetTotalMemory(forceFullCollection: true), Environment.WorkingSet, exchange.ProsodyResidentBytes());
    }

    private static string Mib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0,7:0.0} MiB");

    private static string PerPeer(long bytes, int count) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)count / 1024,6:0.0} KiB");
}
