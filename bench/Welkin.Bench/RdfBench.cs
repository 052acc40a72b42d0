using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Catalog.Description;
using Welkin.Intercloud.Rdf;
using Welkin.Testing;
using Welkin.Testing.Rdf;

namespace Welkin.Bench;

/// <summary>
/// One cloud's published description of a synthetic catalog of N offerings: (a) a realistic selection
/// query in Redland in process against Jena ARQ on the same Turtle in the same run, Jena timed inside
/// its JVM and the JVM's start measured apart; (b) republishing after a catalog change: building the
/// triples, writing Turtle and JSON-LD, and loading the Turtle into Redland, against serializing the
/// same offerings and templates as the JSON of the catalog API.
/// </summary>
internal static class RdfBench
{
    private const int WarmUp = 1;

    // The default limits but for time: loading the description is what (b) measures.
    private static readonly SparqlLimits Limits = SparqlLimits.Default with { Timeout = TimeSpan.FromMinutes(10) };

    private const string Selection = """
        PREFIX wk: <https://welkin.dev/ns/cloud#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        PREFIX schema: <https://schema.org/>
        SELECT DISTINCT ?o ?title ?price ?avail WHERE {
          ?o a wk:Offering ; dcterms:title ?title ; wk:availableIn ?r ; wk:sla ?s ; schema:priceSpecification ?rate ; wk:virtualSystem ?vs .
          ?r wk:jurisdiction ?j . ?j dcterms:identifier ?jurisdiction . ?s wk:availabilityTarget ?avail .
          ?rate wk:metric ?metric ; schema:price ?price . ?vs wk:defaultVcpus ?v
          FILTER(?jurisdiction = "DE" && ?metric = "cpu-hour" && ?v >= 4 && ?price <= 0.20 && ?avail >= 99.9) }
        ORDER BY ?price ?o LIMIT 50
        """;

    private static readonly decimal[] Availabilities = [99.5m, 99.9m, 99.95m, 99.99m];

    private static readonly CatalogRegion[] Regions =
        [new("DE", "eu-central-fra"), new("DE", "eu-central-ber"), new("NL", "eu-west-ams"), new("US", "us-east-iad")];

    public static async Task QueryAsync(string[] args)
    {
        var offerings = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        var dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-bench-rdf-")).FullName;
        try
        {
            var turtle = TurtleWriter.Write(CatalogGraph.Build(Snapshot(offerings, 0)));
            var dataFile = Path.Combine(dir, "description.ttl");
            var queryFile = Path.Combine(dir, "selection.rq");
            await File.WriteAllTextAsync(dataFile, turtle);
            await File.WriteAllTextAsync(queryFile, Selection);
            var (graph, error) = RdfGraph.Load(turtle, RdfSyntax.Turtle, new Uri("https://cloud.example/"), Limits, TimeProvider.System);
            using var _ = graph ?? throw new InvalidOperationException(error!.Detail);
            var engine = new SparqlEngine(Limits, TimeProvider.System);
            Console.WriteLine($"welkin-bench sparql: {Environment.ProcessorCount} cores, {offerings} offerings ({graph.Triples} triples, {Encoding.UTF8.GetByteCount(turtle) / 1024} KiB of Turtle), "
                + $"{rounds} runs per engine after {WarmUp} unmeasured");

            var ours = "";
            var redland = new List<double>();
            for (var i = 0; i < WarmUp + rounds; i++)
            {
                var watch = Stopwatch.StartNew();
                var (results, queryError) = engine.Query(graph, Selection);
                ours = results?.ToJson() ?? throw new InvalidOperationException(queryError!.Detail);
                if (i >= WarmUp)
                {
                    redland.Add(watch.Elapsed.TotalMilliseconds);
                }
            }

            var timed = await Jena.TimedSparqlAsync(dataFile, queryFile, WarmUp + rounds);
            var jena = timed.QueryMs.Skip(WarmUp).ToList();
            var started = Stopwatch.StartNew();
            var empty = await Jena.TimedSparqlAsync(dataFile, queryFile, 0);
            var startMs = started.Elapsed.TotalMilliseconds - empty.LoadMs;
            var perCall = new List<double>();
            var theirs = "";
            for (var i = 0; i < 5; i++)
            {
                var watch = Stopwatch.StartNew();
                theirs = await Jena.SparqlAsync(dataFile, queryFile);
                perCall.Add(watch.Elapsed.TotalMilliseconds);
            }

            var rows = SparqlResultSets.Rows(ours);
            var same = SparqlResultSets.Lines(rows, ordered: true) == SparqlResultSets.Lines(SparqlResultSets.Rows(theirs), ordered: true);
            var p50Redland = P50(redland);
            var p50Jena = P50(jena);
            Console.WriteLine(Invariant($"  selection query: {rows.Count} rows, equal result sequences in both engines: {(same ? "yes" : "NO")}"));
            Console.WriteLine(Invariant($"  Redland in process (parse, guard, run, JSON):    {Percentiles.Summary(redland)}"));
            Console.WriteLine(Invariant($"  Jena ARQ inside its JVM (parse, run, JSON):      {Percentiles.Summary(jena)}, first (cold) run {timed.QueryMs[0]:0.00} ms"));
            Console.WriteLine(Invariant($"  Jena ARQ loading the Turtle inside its JVM:      {timed.LoadMs:0.00} ms ({timed.Triples} triples); Redland's load: see description-republish"));
            Console.WriteLine(Invariant($"  JVM start + compiling the timing program:        {startMs:0} ms (process wall time with no query, less the load)"));
            Console.WriteLine(Invariant($"  one arq.sparql process per query, as a test pays: {Percentiles.Summary(perCall)}"));
            Console.WriteLine(Invariant($"  ratio Jena/Redland (p50, query only): {p50Jena / p50Redland:0.00}; one arq.sparql call / Redland: {P50(perCall) / p50Redland:0}"));
        }
        finally
        {
            TempDirectories.TryDelete(dir);
        }
    }

    public static void Republish(string[] args)
    {
        var offerings = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        var build = new List<double>();
        var turtle = new List<double>();
        var jsonLd = new List<double>();
        var load = new List<double>();
        var total = new List<double>();
        var json = new List<double>();
        var sizes = (Turtle: 0, JsonLd: 0, Json: 0, Triples: 0);
        for (var i = 0; i < WarmUp + rounds; i++)
        {
            // Each round is a catalog change: one offering repriced, so every description differs from the last.
            var snapshot = Snapshot(offerings, i);
            var watch = Stopwatch.StartNew();
            var triples = CatalogGraph.Build(snapshot);
            var built = watch.Elapsed.TotalMilliseconds;
            var ttl = TurtleWriter.Write(triples);
            var written = watch.Elapsed.TotalMilliseconds;
            var ld = JsonLdWriter.Write(triples);
            var both = watch.Elapsed.TotalMilliseconds;
            var (graph, error) = RdfGraph.Load(ttl, RdfSyntax.Turtle, new Uri("https://cloud.example/"), Limits, TimeProvider.System);
            using (graph ?? throw new InvalidOperationException(error!.Detail))
            {
                var loaded = watch.Elapsed.TotalMilliseconds;
                watch.Restart();
                var plain = JsonSerializer.Serialize(new { snapshot.Offerings, snapshot.Templates }, WelkinJson.Server);
                var serialized = watch.Elapsed.TotalMilliseconds;
                sizes = (Encoding.UTF8.GetByteCount(ttl), Encoding.UTF8.GetByteCount(ld), Encoding.UTF8.GetByteCount(plain), graph.Triples);
                if (i >= WarmUp)
                {
                    build.Add(built);
                    turtle.Add(written - built);
                    jsonLd.Add(both - written);
                    load.Add(loaded - both);
                    total.Add(loaded);
                    json.Add(serialized);
                }
            }
        }
        Console.WriteLine($"welkin-bench description-republish: {Environment.ProcessorCount} cores, {offerings} offerings, {sizes.Triples} triples, {rounds} changes after {WarmUp} unmeasured");
        Console.WriteLine(Invariant($"  CatalogGraph.Build:             {Percentiles.Summary(build)}"));
        Console.WriteLine(Invariant($"  TurtleWriter.Write:             {Percentiles.Summary(turtle)}  {sizes.Turtle / 1024} KiB"));
        Console.WriteLine(Invariant($"  JsonLdWriter.Write:             {Percentiles.Summary(jsonLd)}  {sizes.JsonLd / 1024} KiB"));
        Console.WriteLine(Invariant($"  Redland load of the Turtle:     {Percentiles.Summary(load)}"));
        Console.WriteLine(Invariant($"  republish, all four:            {Percentiles.Summary(total)}"));
        Console.WriteLine(Invariant($"  baseline, the same as API JSON: {Percentiles.Summary(json)}  {sizes.Json / 1024} KiB"));
        Console.WriteLine(Invariant($"  ratio republish/baseline (p50): {P50(total) / P50(json):0.0}"));
    }

    private static double P50(IEnumerable<double> values) => Percentiles.Of([.. values.Order()], 0.50);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>N published offerings on 20 templates, in four regions of three jurisdictions; <paramref name="change"/> reprices one.</summary>
    private static CatalogSnapshot Snapshot(int count, int change)
    {
        var at = new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);
        var templates = Enumerable.Range(0, 20).Select(t =>
        {
            var vcpus = 1 << (t % 5);
            var system = new VirtualSystemSpec("app",
                new HardwareChoices(new Choice<int>([vcpus], vcpus), new Choice<long>([vcpus * 4096L], vcpus * 4096L), new Choice<long>([20, 100], 20)),
                new SoftwareChoices(new Choice<string>(["debian", "rhel"], t % 2 == 0 ? "debian" : "rhel")));
            return new TemplateView($"tpl_{t:D26}", 1, TemplateState.Published, $"Template {t}", "A benchmark template", [system], "prn_bench", 1, at, at, at, null);
        }).ToList();
        var offerings = Enumerable.Range(0, count).Select(i =>
        {
            var template = templates[i % templates.Count];
            var cpuHour = 0.05m + i % 30 * 0.01m + (i == change % count ? 0.001m : 0m);
            List<PriceRate> rates = [new("compute-unit", "unit-month", 20m + i % 40), new("cpu-hour", "hour", cpuHour)];
            if (i % 3 == 0)
            {
                rates.Add(new PriceRate("memory-gb-hour", "hour", 0.01m, Pricing: PricingModel.Tiered, Tiers: [new PriceTier(100m, 0.012m), new PriceTier(1000m, 0.011m)]));
            }
            var spec = new OfferingSpec($"Offering {i} \"bench\"", OfferingKind.Compute, new PricePlan("EUR", "month", rates),
                new SlaTerms(Availabilities[i % 4], CpuUtilizationPercentMax: i % 2 == 0 ? 90m : null), new OfferingTerms(1, 50m),
                "compute-unit", "A benchmark offering", template.Id, 1,
                Constraints: (i % 4) switch { 0 => new PlacementConstraints(["DE"]), 1 => new PlacementConstraints(["NL"]), 2 => new PlacementConstraints(["US"]), _ => null });
            return new OfferingView($"off_{i:D26}", OfferingState.Published, spec, 1, at, at, at, null);
        }).ToList();
        return new CatalogSnapshot(new DescribedCloud("https://cloud.example/api/v1"), offerings, templates, Regions);
    }
}
