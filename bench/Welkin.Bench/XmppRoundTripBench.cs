using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;

namespace Welkin.Bench;

/// <summary>
/// IQ round trips between two parties through a private Prosody (the answering party's IQ handler
/// echoes the payload), one after another, against a plain TCP echo of a message of the same size on
/// the same loopback, taking turns in the same run. A ping of the server itself shows one TLS leg
/// without the second party.
/// </summary>
internal static class XmppRoundTripBench
{
    private const int WarmUp = 200;

    public static async Task RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
        Console.WriteLine($"welkin-bench xmpp-iq: {Environment.ProcessorCount} cores, {count} sequential round trips per case (after {WarmUp} unmeasured), all on loopback");
        await using var exchange = await XmppExchange.StartAsync(2);
        var echo = XmppExchange.Federation + "echo";
        var handlers = new Dictionary<XName, XmppIqHandler>
        {
            [echo] = (request, _) => Task.FromResult(XmppIqAnswer.Result(new XElement(request.Payload))),
        };
        await using var asking = await exchange.ConnectAsync(exchange.Options(0));
        await using var answering = await exchange.ConnectAsync(exchange.Options(1) with { IqHandlers = handlers, Features = [XmppExchange.Federation.NamespaceName] });

        XElement Payload(int n) => new(echo, new XAttribute("seq", n), new XAttribute("region", "eu-central"), new XAttribute("vcpus", 16));

        // The request as it travels from the asking party (Prosody adds a from on the way).
        var size = Encoding.UTF8.GetByteCount(new XElement(XName.Get("iq", "jabber:client"), new XAttribute("type", "get"), new XAttribute("id", "q1234"),
            new XAttribute("to", answering.Jid), Payload(1234)).ToString(SaveOptions.DisableFormatting));
        await using var tcpEcho = await TcpEcho.StartAsync(size);
        var latencies = await MeasureAsync(count,
            async n =>
            {
                var (result, error) = await asking.QueryAsync(answering.Jid, "get", Payload(n), CancellationToken.None);
                if (error is not null || result!.Element(echo)?.Attribute("seq")?.Value != n.ToString(CultureInfo.InvariantCulture))
                {
                    throw new InvalidOperationException($"IQ {n} failed: {error?.Code} {error?.Detail}");
                }
            },
            async _ =>
            {
                if (await asking.PingAsync(XmppExchange.Domain, CancellationToken.None) is { } error)
                {
                    throw new InvalidOperationException($"Ping failed: {error.Code} {error.Detail}");
                }
            },
            _ => tcpEcho.RoundTripAsync());
        var (iq, ping, tcp) = (latencies[0], latencies[1], latencies[2]);

        var iqP50 = Percentiles.Of(iq, 0.50);
        var iqP99 = Percentiles.Of(iq, 0.99);
        var tcpP50 = Percentiles.Of(tcp, 0.50);
        var tcpP99 = Percentiles.Of(tcp, 0.99);
        Console.WriteLine($"  IQ party to party via Prosody:  {Percentiles.Summary(iq)}");
        Console.WriteLine($"  ping of Prosody itself:         {Percentiles.Summary(ping)}");
        Console.WriteLine($"  plain TCP echo, {size} bytes:     {Percentiles.Summary(tcp)}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  ratio IQ / TCP echo: p50 {iqP50 / tcpP50:0.0}x, p99 {iqP99 / tcpP99:0.0}x"));
    }

    /// <summary>
    /// Sorted latencies in milliseconds of each case, <paramref name="count"/> calls made one after
    /// another after a warm-up; the cases take turns, so a load on the machine falls on all alike.
    /// </summary>
    private static async Task<double[][]> MeasureAsync(int count, params Func<int, Task>[] cases)
    {
        var latencies = cases.Select(_ => new double[count]).ToArray();
        for (var n = 0; n < WarmUp + count; n++)
        {
            for (var c = 0; c < cases.Length; c++)
            {
                var start = Stopwatch.GetTimestamp();
                await cases[c](n);
                if (n >= WarmUp)
                {
                    latencies[c][n - WarmUp] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }
        }

        foreach (var sorted in latencies)
        {
            Array.Sort(sorted);
        }

        return latencies;
    }

    /// <summary>A plain TCP echo on loopback: what a round trip of the same bytes costs without TLS, XML or a server in between.</summary>
    private sealed class TcpEcho : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly TcpClient _client;
        private readonly TcpClient _server;
        private readonly Task _echoing;
        private readonly byte[] _message;
        private readonly byte[] _answer;

        private TcpEcho(TcpListener listener, TcpClient client, TcpClient server, int size)
        {
            _listener = listener;
            _client = client;
            _server = server;
            _message = new byte[size];
            _answer = new byte[size];
            _echoing = EchoAsync(server.GetStream(), size);
        }

        public static async Task<TcpEcho> StartAsync(int size)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var client = new TcpClient { NoDelay = true };
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            var server = await listener.AcceptTcpClientAsync();
            server.NoDelay = true;
            return new TcpEcho(listener, client, server, size);
        }

        public async Task RoundTripAsync()
        {
            var stream = _client.GetStream();
            await stream.WriteAsync(_message);
            await stream.ReadExactlyAsync(_answer);
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            try
            {
                await _echoing;
            }
            catch (Exception exception) when (exception is EndOfStreamException or IOException or ObjectDisposedException)
            {
                // The echo loop ends with the connection.
            }

            _server.Dispose();
            _listener.Dispose();
        }

        private static async Task EchoAsync(NetworkStream stream, int size)
        {
            var buffer = new byte[size];
            while (true)
            {
                await stream.ReadExactlyAsync(buffer);
                await stream.WriteAsync(buffer);
            }
        }
    }
}
