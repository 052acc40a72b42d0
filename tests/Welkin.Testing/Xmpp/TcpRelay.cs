using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Welkin.Testing.Xmpp;

/// <summary>
/// A loopback TCP relay between a client and a server that a test can cut, as a failing network
/// would, and keep refusing connections through while it wants the client offline.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TcpClient, byte> _open = new();
    private readonly Task _accepting;

    public TcpRelay(int targetPort)
    {
        _target = targetPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>While set, new connections are closed as soon as they are accepted.</summary>
    public bool Refusing { get; set; }

    /// <summary>How many connections have been relayed so far.</summary>
    public int Relayed { get; private set; }

    /// <summary>Closes every relayed connection at both ends.</summary>
    public void Sever()
    {
        foreach (var socket in _open.Keys)
        {
            socket.Dispose();
        }

        _open.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Sever();
        try
        {
            await _accepting;
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            if (Refusing)
            {
                client.Dispose();
                continue;
            }

            var server = new TcpClient();
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
            }
            catch (SocketException)
            {
                server.Dispose();
                client.Dispose();
                continue;
            }

            Relayed++;
            _open[client] = 0;
            _open[server] = 0;
            _ = PumpAsync(client, server);
            _ = PumpAsync(server, client);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream(), _stop.Token);
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // One side went away: the other is closed below.
        }

        _open.TryRemove(from, out _);
        _open.TryRemove(to, out _);
        from.Dispose();
        to.Dispose();
    }
}
