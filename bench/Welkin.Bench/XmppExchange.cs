using System.Globalization;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;
using Welkin.Testing.Xmpp;

namespace Welkin.Bench;

/// <summary>
/// A private Prosody (the test fixture: own directory, certificate and loopback port) with numbered
/// accounts party-0 … party-N, for the XMPP benchmarks; logins use SCRAM-SHA-256 as federation does.
/// </summary>
internal sealed class XmppExchange : IAsyncDisposable
{
    public static readonly XNamespace Federation = "urn:welkin:federation:1";
    private const int RegistrationConcurrency = 4;
    private const int LoginConcurrency = 8;
    private readonly ProsodyServer _prosody;
    private int _registered;

    private XmppExchange(ProsodyServer prosody) => _prosody = prosody;

    public static async Task<XmppExchange> StartAsync(int accounts)
    {
        var exchange = new XmppExchange(await ProsodyServer.StartAsync("SHA-256", new Dictionary<string, string>()));
        try
        {
            await exchange.RegisterAsync(accounts);
            return exchange;
        }
        catch
        {
            await exchange.DisposeAsync();
            throw;
        }
    }

    public const string Domain = ProsodyServer.Domain;

    public static string User(int index) => "party-" + index.ToString(CultureInfo.InvariantCulture);

    public static string BareAddress(int index) => User(index) + "@" + ProsodyServer.Domain;

    /// <summary>Registers accounts until <paramref name="accounts"/> exist; prosodyctl is slow to start, so a few at once.</summary>
    public async Task RegisterAsync(int accounts)
    {
        var first = _registered;
        await Parallel.ForEachAsync(Enumerable.Range(first, Math.Max(0, accounts - first)),
            new ParallelOptions { MaxDegreeOfParallelism = RegistrationConcurrency },
            async (index, _) => await _prosody.RegisterAsync(User(index), Password(index)));
        _registered = Math.Max(_registered, accounts);
    }

    /// <summary>The exchange's TLS certificate (PEM): what a cloud's Federation:ExchangeTrust names.</summary>
    public string CertificateFile => _prosody.CertificateFile;

    public int Port => _prosody.Port;

    public XmppClientOptions Options(int index) => _prosody.Options(User(index), Password(index), "bench");

    public async Task<XmppClient> ConnectAsync(XmppClientOptions options)
    {
        var (client, error) = await XmppClient.ConnectAsync(options, CancellationToken.None);
        return client ?? throw new InvalidOperationException($"{options.Username} could not log in: {error!.Code}: {error.Detail} {error.Cause}");
    }

    /// <summary>Logs in the accounts <paramref name="indexes"/>, a few at a time, in their order.</summary>
    public async Task<XmppClient[]> ConnectManyAsync(IReadOnlyList<int> indexes, Func<int, XmppClientOptions> options)
    {
        var clients = new XmppClient[indexes.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, indexes.Count), new ParallelOptions { MaxDegreeOfParallelism = LoginConcurrency },
            async (i, _) => clients[i] = await ConnectAsync(options(indexes[i])));
        return clients;
    }

    /// <summary>Prosody's resident set size in bytes (one process: Prosody is single-threaded Lua).</summary>
    public long ProsodyResidentBytes()
    {
        var pidFile = Path.Combine(Path.GetDirectoryName(_prosody.ConfigFile)!, "prosody.pid");
        var pid = File.ReadAllText(pidFile).Trim();
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    public ValueTask DisposeAsync() => _prosody.DisposeAsync();

    private static string Password(int index) => "bench-secret-" + index.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Nearest-rank percentiles of latencies in milliseconds.</summary>
internal static class Percentiles
{
    public static double Of(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static string Summary(IEnumerable<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToArray();
        return string.Create(CultureInfo.InvariantCulture,
            $"p50 {Of(sorted, 0.50),7:0.00} ms, p99 {Of(sorted, 0.99),7:0.00} ms, max {(sorted.Length == 0 ? double.NaN : sorted[^1]),7:0.00} ms ({sorted.Length})");
    }
}
