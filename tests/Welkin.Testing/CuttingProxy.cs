using System.Net;
using System.Net.Sockets;

namespace Welkin.Testing;

/// <summary>
/// A TCP proxy on loopback in front of <c>127.0.0.1:targetPort</c> that forwards both ways and, once armed,
/// cuts the connections it carries when the bytes sent towards the target since arming pass a threshold:
/// an interrupted transfer, whatever the protocol on top (TLS included); or, armed for the other way, when
/// the bytes coming back from the target pass one (an interrupted download). It counts the bytes both ways,
/// so a test can tell what a resumed transfer sent again.
/// </summary>
public sealed class CuttingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _open = [];
    private readonly Task _accepting;
    private long _upstream;
    private long _cutAt = long.MaxValue;
    private long _downstream;
    private long _cutDownAt = long.MaxValue;
    private long _downstreamAtCut;
    private int _cuts;

    public CuttingProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Bytes sent towards the target since the proxy started.</summary>
    public long Upstream => Interlocked.Read(ref _upstream);

    /// <summary>Bytes that came back from the target since the proxy started.</summary>
    public long Downstream => Interlocked.Read(ref _downstream);

    /// <summary>What <see cref="Downstream"/> was when the proxy last cut its connections.</summary>
    public long DownstreamAtCut => Interlocked.Read(ref _downstreamAtCut);

    /// <summary>How many times the proxy cut its connections.</summary>
    public int Cuts => Volatile.Read(ref _cuts);

    /// <summary>Cuts every open connection once <paramref name="bytes"/> more bytes went towards the target (once).</summary>
    public void CutAfter(long bytes) => Interlocked.Exchange(ref _cutAt, Upstream + bytes);

    /// <summary>Cuts every open connection once <paramref name="bytes"/> more bytes came back from the target (once).</summary>
    public void CutAfterDownstream(long bytes) => Interlocked.Exchange(ref _cutDownAt, Downstream + bytes);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => CarryAsync(inbound));
        }
    }

    private async Task CarryAsync(TcpClient inbound)
    {
        using var outbound = new TcpClient();
        try
        {
            await outbound.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            lock (_open)
            {
                _open.Add(inbound);
                _open.Add(outbound);
            }
            var up = PumpAsync(inbound.GetStream(), outbound.GetStream(), countUp: true);
            var down = PumpAsync(outbound.GetStream(), inbound.GetStream(), countUp: false);
            await Task.WhenAny(up, down);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_open)
            {
                _open.Remove(inbound);
                _open.Remove(outbound);
            }
            inbound.Dispose();
        }
    }

    private async Task PumpAsync(Stream from, Stream to, bool countUp)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }
                if (countUp ? Passed(ref _upstream, ref _cutAt, read) : Passed(ref _downstream, ref _cutDownAt, read))
                {
                    Interlocked.Exchange(ref _downstreamAtCut, Downstream);
                    Interlocked.Increment(ref _cuts);
                    CutAll();
                    return;
                }
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Counts <paramref name="read"/> bytes; true (and disarmed) when they reach the threshold.</summary>
    private static bool Passed(ref long counted, ref long cutAt, int read)
    {
        if (Interlocked.Add(ref counted, read) < Interlocked.Read(ref cutAt))
        {
            return false;
        }
        Interlocked.Exchange(ref cutAt, long.MaxValue);
        return true;
    }

    private void CutAll()
    {
        lock (_open)
        {
            foreach (var client in _open)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
            }
            _open.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        CutAll();
        _stop.Dispose();
    }
}
