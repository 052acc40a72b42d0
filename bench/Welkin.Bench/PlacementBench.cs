using System.Diagnostics;
using Welkin.Core.Compute;
using Welkin.Core.Placement;

namespace Welkin.Bench;

/// <summary>
/// Placement decisions per second and their latency on a large fabric: hosts in 4 regions and
/// 3 jurisdictions, a mix of unconstrained, jurisdiction-bound and anti-affine requests, each
/// placed and (so the fabric never fills) released again after a while.
/// </summary>
internal static class PlacementBench
{
    public static void Run(int hostCount, int decisions)
    {
        var regions = new[] { ("us-east", "US"), ("us-west", "US"), ("eu-central", "DE"), ("eu-west", "FR") };
        var hosts = Enumerable.Range(0, hostCount)
            .Select(i => new FabricHost($"h{i}", regions[i % 4].Item1, regions[i % 4].Item2, 64, 262_144, 8_000))
            .ToList();
        var placer = new Placer(hosts, new PlacementOptions { CpuOvercommit = 4 });
        var random = new Random(42);
        var live = new Queue<Placement>();
        var latencies = new double[decisions];
        string[] de = ["DE"];
        // Warm-up: fill the fabric a little and let the JIT settle.
        for (var i = 0; i < 2_000; i++)
        {
            live.Enqueue(placer.Place(new PlacementRequest(2, 4_096, 50)).Value);
        }
        var total = Stopwatch.StartNew();
        for (var i = 0; i < decisions; i++)
        {
            var kind = random.Next(10);
            var request = kind switch
            {
                < 6 => new PlacementRequest(4, 8_192, 100),
                < 8 => new PlacementRequest(2, 6_144, 100, Jurisdictions: de),
                _ => new PlacementRequest(4, 8_192, 100, AntiAffinityGroup: $"inst-{i / 3}"),
            };
            var started = Stopwatch.GetTimestamp();
            var placed = placer.Place(request);
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (!placed.IsSuccess)
            {
                throw new InvalidOperationException(placed.Error!.Detail);
            }
            live.Enqueue(placed.Value);
            if (live.Count > hostCount * 4)
            {
                placer.Release(live.Dequeue());
            }
        }
        total.Stop();
        Array.Sort(latencies);
        Console.WriteLine(
            $"placement: {hostCount} hosts, {decisions} decisions: {decisions / total.Elapsed.TotalSeconds:0} decisions/s, " +
            $"p50 {latencies[decisions / 2] * 1000:0} µs, p99 {latencies[(int)(decisions * 0.99)] * 1000:0} µs, max {latencies[^1] * 1000:0} µs");
    }
}
