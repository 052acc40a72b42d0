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
/// the same loopback in the same run. A ping of the server itself shows one TLS leg without the
/// second party.
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
        var iq = await MeasureAsync(count, async n =>
        {
            var (result, error) = await asking.QueryAsync(answering.Jid, "get", Payload(n), CancellationToken.None);
            if (error is not null || result!.Element(echo)?.Attribute("seq")?.Value != n.ToString(CultureInfo.InvariantCulture))
            {
                throw new InvalidOperationException($"IQ {n} failed: {error?.Code} {error?.Detail}");
            }
        });
        var ping = await MeasureAsync(count, async _ =>
        {
            if (await asking.PingAsync(XmppExchange.Domain, CancellationToken.None) is { } error)
            {
                throw new InvalidOperationException($"Ping failed: {error.Code} {error.Detail}");
            }
        });

        // The request as it travels from the asking party (Prosody adds a from on the way).
        var size = Encoding.UTF8.GetByteCount(new XElement(XName.Get("iq", "jabber:client"), new XAttribute("type", "get"), new XAttribute("id", "q1234"),
            new XAttribute("to", answering.Jid), Payload(1234)).ToString(SaveOptions.DisableFormatting));
        var tcp = await TcpEchoAsync(count, size);

        var iqP50 = Percentiles.Of(iq, 0.50);
        var iqP99 = Percentiles.Of(iq, 0.99);
        var tcpP50 = Percentiles.Of(tcp, 0.50);
        var tcpP99 = Percentiles.Of(tcp, 0.99);
        Console.WriteLine($"  IQ party to party via Prosody:  {Percentiles.Summary(iq)}");
        Console.WriteLine($"  ping of the server (one leg):   {Percentiles.Summary(ping)}");
        Console.WriteLine($"  plain TCP echo, {size} bytes:     {Percentiles.Summary(tcp)}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  ratio IQ / TCP echo: p50 {iqP50 / tcpP50:0.0}x, p99 {iqP99 / tcpP99:0.0}x"));
    }

    /// <summary>Sorted latencies in milliseconds of <paramref name="count"/> calls made one after another, after a warm-up.</summary>
    private static async Task<double[]> MeasureAsync(int count, Func<int, Task> roundTrip)
    {
        for (var n = 0; n < WarmUp; n++)
        {
            await roundTrip(n);
        }

        var latencies = new double[count];
        for (var n = 0; n < count; n++)
        {
            var start = Stopwatch.GetTimestamp();
            await roundTrip(WarmUp + n);
            latencies[n] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(latencies);
        return latencies;
    }

    private static async Task<double[]> TcpEchoAsync(int count, int size)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptTcpClientAsync();
        server.NoDelay = true;
        using var stop = new CancellationTokenSource();
        var echoing = EchoAsync(server.GetStream(), size, stop.Token);
        var stream = client.GetStream();
        var message = new byte[size];
        var answer = new byte[size];
        var latencies = await MeasureAsync(count, async _ =>
        {
            await stream.WriteAsync(message);
            await stream.ReadExactlyAsync(answer);
        });
        await stop.CancelAsync();
        client.Close();
        try
        {
            await echoing;
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
            // The echo loop ends with the connection.
        }

        return latencies;
    }

    private static async Task EchoAsync(NetworkStream stream, int size, CancellationToken cancellationToken)
    {
        var buffer = new byte[size];
        while (true)
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken);
            await stream.WriteAsync(buffer, cancellationToken);
        }
    }
}
