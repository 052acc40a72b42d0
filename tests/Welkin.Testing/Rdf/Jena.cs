using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;

namespace Welkin.Testing.Rdf;

/// <summary>
/// Apache Jena from Debian (libapache-jena-java), run as the independent party of the RDF tests: its
/// RIOT parser and its ARQ SPARQL engine. Debian's jars need two fixes to start: an explicit classpath
/// (the directory holds two slf4j bindings) and the xerces regex message bundle, which Debian moved out
/// of the package, put back on the classpath from jena-core.jar.
/// </summary>
public static class Jena
{
    private const string JavaDirectory = "/usr/share/java";
    private const string Bundle = "org/apache/jena/ext/xerces/impl/xpath/regex/message.properties";

    private static readonly string[] Jars =
    [
        "jena-arq", "jena-base", "jena-core", "jena-cmds", "jena-iri", "slf4j-api", "slf4j-nop", "commons-lang3", "commons-io",
        "commons-codec", "commons-compress", "commons-csv", "commons-cli", "dexx.collection", "gson", "jackson-core",
        "jackson-databind", "jackson-annotations", "jsonld-java", "titanium-json-ld", "jakarta.json-api", "protobuf", "thrift",
        "httpclient", "httpclient-cache", "httpcore", "jcl-over-slf4j", "guava",
    ];

    // Run by Java's source launcher (the JRE has jdk.compiler): one JVM loads the data once and answers every query.
    private const string BatchSource = """
        import java.io.FileOutputStream;
        import java.io.OutputStream;
        import org.apache.jena.query.*;
        import org.apache.jena.rdf.model.Model;
        import org.apache.jena.rdf.model.ModelFactory;
        import org.apache.jena.riot.RDFDataMgr;

        public class SparqlBatch {
            public static void main(String[] args) throws Exception {
                Model model = ModelFactory.createDefaultModel();
                int i = 0;
                for (; !args[i].equals("--"); i++) RDFDataMgr.read(model, args[i]);
                for (i++; i < args.length; i++) {
                    Query query = QueryFactory.read(args[i]);
                    try (QueryExecution execution = QueryExecutionFactory.create(query, model); OutputStream out = new FileOutputStream(args[i] + ".json")) {
                        if (query.isAskType()) ResultSetFormatter.outputAsJSON(out, execution.execAsk());
                        else ResultSetFormatter.outputAsJSON(out, execution.execSelect());
                    }
                }
            }
        }
        """;

    // Times ARQ inside one JVM, for the benchmarks: the load of the data, then each run of the query
    // (parse, execution, SPARQL JSON results written to memory), in nanoseconds.
    private const string TimedSource = """
        import java.io.ByteArrayOutputStream;
        import java.nio.file.Files;
        import java.nio.file.Path;
        import org.apache.jena.query.*;
        import org.apache.jena.rdf.model.Model;
        import org.apache.jena.riot.RDFDataMgr;

        public class SparqlTimed {
            public static void main(String[] args) throws Exception {
                long start = System.nanoTime();
                Model model = RDFDataMgr.loadModel(args[0]);
                System.out.println("load " + (System.nanoTime() - start) + " " + model.size());
                String text = Files.readString(Path.of(args[1]));
                for (int i = 0, n = Integer.parseInt(args[2]); i < n; i++) {
                    long begin = System.nanoTime();
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    try (QueryExecution execution = QueryExecutionFactory.create(QueryFactory.create(text), model)) {
                        ResultSetFormatter.outputAsJSON(out, execution.execSelect());
                    }
                    System.out.println("query " + (System.nanoTime() - begin) + " " + out.size());
                }
            }
        }
        """;

    private static readonly Lazy<string> ClassPath = new(BuildClassPath);

    /// <summary>Runs ARQ: the SPARQL JSON results of <paramref name="queryFile"/> over <paramref name="dataFile"/> (Turtle, N-Triples, JSON-LD ...).</summary>
    public static Task<string> SparqlAsync(string dataFile, string queryFile, CancellationToken ct = default) =>
        RunAsync(["arq.sparql", "--data", dataFile, "--query", queryFile, "--results", "json"], ct);

    /// <summary>
    /// Runs ARQ once for many queries: the union of <paramref name="dataFiles"/> (syntax by file extension)
    /// is loaded once and every query file answered over it, in one JVM. Returns the SPARQL JSON results
    /// in the order of <paramref name="queryFiles"/> (each also left beside its query as FILE.json).
    /// </summary>
    public static async Task<IReadOnlyList<string>> SparqlBatchAsync(IReadOnlyList<string> dataFiles, IReadOnlyList<string> queryFiles, CancellationToken ct = default)
    {
        var source = Path.Combine(Path.GetDirectoryName(queryFiles[0])!, "SparqlBatch.java");
        await File.WriteAllTextAsync(source, BatchSource, ct);
        await RunAsync([source, .. dataFiles, "--", .. queryFiles], ct);
        var results = new List<string>();
        foreach (var query in queryFiles)
        {
            results.Add(await File.ReadAllTextAsync(query + ".json", ct));
        }
        return results;
    }

    /// <summary>
    /// Runs a SELECT <paramref name="repetitions"/> times in one JVM over <paramref name="dataFile"/>: the
    /// time to load the data and each run's time (parse, execution, JSON results written to memory) in
    /// milliseconds, as the JVM measured them (so without the JVM's start).
    /// </summary>
    public static async Task<(double LoadMs, long Triples, IReadOnlyList<double> QueryMs)> TimedSparqlAsync(
        string dataFile, string queryFile, int repetitions, CancellationToken ct = default)
    {
        var source = Path.Combine(Path.GetDirectoryName(queryFile)!, "SparqlTimed.java");
        await File.WriteAllTextAsync(source, TimedSource, ct);
        var lines = (await RunAsync([source, dataFile, queryFile, repetitions.ToString(CultureInfo.InvariantCulture)], ct))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ')).ToList();
        static double Ms(string nanoseconds) => long.Parse(nanoseconds, CultureInfo.InvariantCulture) / 1e6;
        var load = lines.Single(l => l[0] == "load");
        return (Ms(load[1]), long.Parse(load[2], CultureInfo.InvariantCulture), [.. lines.Where(l => l[0] == "query").Select(l => Ms(l[1]))]);
    }

    /// <summary>
    /// Parses <paramref name="file"/> with RIOT and returns it as N-Triples. <paramref name="syntax"/> names
    /// the input syntax ("turtle", "jsonld10", "rdfxml" ...; RIOT's JSON-LD 1.1 reader cannot load local
    /// documents in this version, so JSON-LD is read as 1.0); a syntax error fails with RIOT's message.
    /// </summary>
    public static Task<string> NTriplesAsync(string file, string syntax, CancellationToken ct = default) =>
        RunAsync(["riotcmd.riot", "--syntax=" + syntax, "--output=ntriples", file], ct);

    private static async Task<string> RunAsync(IReadOnlyList<string> arguments, CancellationToken ct)
    {
        var start = new ProcessStartInfo("java") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-cp");
        start.ArgumentList.Add(ClassPath.Value);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("java did not start");
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"Jena {arguments[0]} failed ({process.ExitCode}): {await error}{await output}");
        }
        return await output;
    }

    private static string BuildClassPath()
    {
        var fix = Path.Combine(Path.GetTempPath(), "welkin-jena-fix-" + Environment.ProcessId);
        var target = Path.Combine(fix, "xerces", "impl", "xpath", "regex", "message.properties");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        using (var core = ZipFile.OpenRead(Path.Combine(JavaDirectory, "jena-core.jar")))
        {
            (core.GetEntry(Bundle) ?? throw new InvalidOperationException($"{Bundle} is not in jena-core.jar")).ExtractToFile(target, overwrite: true);
        }
        return string.Join(':', [fix, .. Jars.Select(jar => Path.Combine(JavaDirectory, jar + ".jar"))]);
    }
}
