using System.Diagnostics;
using System.Globalization;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Core.Catalog.Description;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Rdf;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Federation;

namespace Welkin.Bench;

/// <summary>
/// Federated selection end to end through a private Prosody: one asking party sends the SPARQL of a
/// selection (<see cref="OfferCriteria.ToSparql"/>) to N peers at once, each answering from a catalog
/// description of M offerings built by <see cref="CatalogGraph"/> with the engine code a cloud runs
/// (<see cref="SparqlEngine"/>, <see cref="SparqlPayload"/>), and merges and ranks the answers as
/// <see cref="FederatedSelection"/> does. Peers are XMPP parties in this process, not welkin-server
/// processes, so that N peers fit on a small machine; they answer either from a graph loaded once
/// ("cached"; CatalogQuery keeps the loaded graph while a stamp of the catalog is unchanged) or by
/// building, writing and loading the description at every query, as CatalogQuery does at the first
/// query after a catalog change ("rebuilt"). Baselines in the same run: the same query over one peer's graph in process, the
/// rebuild of one description, and an IQ ping round trip to one peer.
/// </summary>
internal static class FederatedSelectionBench
{
    private const int WarmUp = 10;
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(string[] args)
    {
        var peers = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var offerings = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
        var count = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 200;
        // The engine's own limit (10 s) by default; larger to see what a description that passes it costs.
        var limit = TimeSpan.FromSeconds(args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 10);
        Console.WriteLine($"welkin-bench federated-selection: {Environment.ProcessorCount} cores, {peers} peers x {offerings} offerings, {count} selections per case (after {WarmUp} unmeasured), loopback Prosody");
        var criteria = OfferCriteria.Parse("4", "8GiB", "DE", "0.20", "EUR", "99.9").Value;
        var sparql = criteria.ToSparql();
        var engine = new SparqlEngine(SparqlLimits.Default with { Timeout = limit }, TimeProvider.System);
        var snapshots = Enumerable.Range(1, peers).Select(i => Catalog(i, offerings)).ToArray();
        var loading = Stopwatch.GetTimestamp();
        var graphs = snapshots.Select(s => Load(engine, s)).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  each description: {graphs[0].Triples} triples; loading all {peers} took {Stopwatch.GetElapsedTime(loading).TotalSeconds:0.0} s (engine time limit {limit.TotalSeconds:0} s)"));
        var rebuild = new bool[1];
        await using var exchange = await XmppExchange.StartAsync(peers + 1);
        var answering = await exchange.ConnectManyAsync([.. Enumerable.Range(1, peers)], i => exchange.Options(i) with
        {
            IqHandlers = new Dictionary<XName, XmppIqHandler> { [SparqlPayload.QueryName] = (r, _) => Task.FromResult(Answer(engine, snapshots[i - 1], graphs[i - 1], rebuild[0], r)) },
            Features = [SparqlPayload.Namespace],
        });
        await using var asking = await exchange.ConnectAsync(exchange.Options(0));
        try
        {
            var cached = await MeasureAsync(count, () => SelectAsync(asking, answering, sparql));
            rebuild[0] = true;
            var rebuilt = await MeasureAsync(count, () => SelectAsync(asking, answering, sparql));
            var local = await MeasureAsync(count, () => Task.FromResult(engine.Query(graphs[0], sparql).Results!.Rows.Count));
            var describe = await MeasureAsync(Math.Min(count, 50), () => { using var g = Load(engine, snapshots[0]); return Task.FromResult(g.Triples); });
            var ping = await MeasureAsync(count, async () => await asking.PingAsync(answering[0].Jid, CancellationToken.None) is null ? 1 : 0);

            Console.WriteLine($"  selection, peers answer from a cached graph: {Percentiles.Summary(cached.Latencies)}, {cached.Offers} offers ranked");
            Console.WriteLine($"  selection, peers rebuild the description:    {Percentiles.Summary(rebuilt.Latencies)}, {rebuilt.Offers} offers ranked");
            Console.WriteLine($"  baseline, one local query (one graph):       {Percentiles.Summary(local.Latencies)}, {local.Offers} rows");
            Console.WriteLine($"  baseline, build+write+load one description:  {Percentiles.Summary(describe.Latencies)}");
            Console.WriteLine($"  baseline, IQ ping round trip to one peer:    {Percentiles.Summary(ping.Latencies)}");
            foreach (var (name, run) in new[] { ("cached", cached), ("rebuilt", rebuilt) })
            {
                var p50 = Percentiles.Of([.. run.Latencies.Order()], 0.50);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  target p50 < 50 ms ({name}): {(p50 < 50 ? "met" : "NOT met")} ({p50:0.0} ms)"));
            }
        }
        finally
        {
            foreach (var client in answering)
            {
                await client.DisposeAsync();
            }
            foreach (var graph in graphs)
            {
                graph.Dispose();
            }
        }
    }

    private static XmppIqAnswer Answer(SparqlEngine engine, CatalogSnapshot snapshot, RdfGraph graph, bool rebuild, XmppIqRequest request)
    {
        using var fresh = rebuild ? Load(engine, snapshot) : null;
        var (results, error) = engine.Query(fresh ?? graph, request.Payload.Value);
        if (error is not null)
        {
            return XmppIqAnswer.Error("modify", "bad-request", error.Detail) with { ApplicationCondition = SparqlPayload.Condition(error.Code) };
        }
        var answer = SparqlPayload.Results(results!);
        return SparqlPayload.Bytes(answer) > SparqlResponder.MaxAnswerBytes
            ? XmppIqAnswer.Error("modify", "not-acceptable", "too large") with { ApplicationCondition = SparqlPayload.Condition(SparqlPayload.TooLargeCondition) }
            : XmppIqAnswer.Result(answer);
    }

    /// <summary>What FederatedSelection.FindAsync does once the peers are known: ask all at once, read, merge, rank.</summary>
    private static async Task<int> SelectAsync(XmppClient asking, XmppClient[] peers, string sparql)
    {
        var answers = await Task.WhenAll(peers.Select(async peer =>
        {
            using var limit = new CancellationTokenSource(PeerTimeout);
            var (result, error) = await asking.QueryAsync(peer.Jid, "get", SparqlPayload.Query(sparql), limit.Token);
            var (results, problem) = SparqlPayload.Read(result);
            return results is null
                ? throw new InvalidOperationException($"{peer.Jid} did not answer: {error?.Code} {error?.StanzaError?.Application} {error?.StanzaError?.Text} {problem}")
                : OfferCriteria.Offers(new FederatedPeer(peer.Jid, XmppAddress.Bare(peer.Jid)), results);
        }));
        return OfferCriteria.Rank(answers.SelectMany(a => a)).Count;
    }

    private static async Task<(double[] Latencies, int Offers)> MeasureAsync(int count, Func<Task<int>> run)
    {
        var latencies = new double[count];
        var offers = 0;
        for (var n = 0; n < WarmUp + count; n++)
        {
            var start = Stopwatch.GetTimestamp();
            offers = await run();
            if (n >= WarmUp)
            {
                latencies[n - WarmUp] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }
        return (latencies, offers);
    }

    private static RdfGraph Load(SparqlEngine engine, CatalogSnapshot snapshot)
    {
        var (graph, error) = RdfGraph.Load(TurtleWriter.Write(CatalogGraph.Build(snapshot)), RdfSyntax.Turtle,
            new Uri(snapshot.Cloud.ApiBase + "/catalog/description"), engine.Limits, TimeProvider.System);
        return graph ?? throw new InvalidOperationException($"the description does not load: {error!.Code} {error.Detail}");
    }

    /// <summary>M compute offerings on four templates, spread over three jurisdictions, prices, availability targets and two currencies.</summary>
    private static CatalogSnapshot Catalog(int peer, int offerings)
    {
        var now = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        (int[] Vcpus, long[] Memory)[] shapes = [([2], [4096]), ([4, 8], [8192, 16384]), ([8, 16], [16384, 32768]), ([1, 2, 4], [2048, 4096, 8192])];
        var templates = shapes.Select((s, i) => new TemplateView($"tpl_{i}", 1, TemplateState.Published, $"Template {i}", null,
            [new VirtualSystemSpec("app", new HardwareChoices(new Choice<int>(s.Vcpus, s.Vcpus[0]), new Choice<long>(s.Memory, s.Memory[0]), new Choice<long>([20], 20)))],
            "prn_bench", 1, now, now, now, null)).ToList();
        string[] jurisdictions = ["DE", "US", "FR"];
        decimal[] availability = [99.0m, 99.5m, 99.9m, 99.95m, 99.99m];
        var views = Enumerable.Range(0, offerings).Select(j => new OfferingView($"off_{peer}_{j:D5}", OfferingState.Published,
            new OfferingSpec($"Offering {j} of peer {peer}", OfferingKind.Compute,
                new PricePlan(j % 7 == 0 ? "USD" : "EUR", "month",
                    [new PriceRate("compute-unit", "unit-month", 30m + j % 10), new PriceRate("cpu-hour", "hour", 0.05m + j % 30 * 0.01m)]),
                new SlaTerms(availability[j % 5]), new OfferingTerms(1, 50m), "compute-unit", null, templates[j % 4].Id, 1,
                Constraints: new PlacementConstraints(Jurisdictions: [jurisdictions[j % 3]])),
            1, now, now, now, null)).ToList();
        return new CatalogSnapshot(new DescribedCloud($"https://peer-{peer}.bench.test/api/v1", $"Peer-{peer}"), views, templates,
            [new CatalogRegion("DE", "fra-1"), new CatalogRegion("US", "us-east"), new CatalogRegion("FR", "par-1")]);
    }
}
