using System.Globalization;
using System.Net.WebSockets;
using Welkin.Core.Common;
using Welkin.Core.Instances;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Endpoints;

/// <summary>
/// A machine's graphical console: <c>GET /api/v1/machines/{id}/console/vnc</c> upgraded to a WebSocket (RFC 6455)
/// that carries the machine's VNC display (RFB) both ways in binary messages, as noVNC and websockify speak it
/// (the subprotocol <c>binary</c> is accepted when offered). The checks come before any upgrade, and a plain GET
/// answers them too: another account's machine is a 404 like one that does not exist; a machine without a display
/// or not running is a 409; a machine whose console could open is a 400 (<c>websocket-required</c>).
/// </summary>
public static class MachineConsoleEndpoints
{
    public const string Subprotocol = "binary";

    public static RouteGroupBuilder MapMachineConsole(this RouteGroupBuilder machines)
    {
        machines.MapGet("/{id}/console/vnc", Vnc).WithName("machine.console-vnc")
            .WithSummary("Open a machine's VNC display as a WebSocket (RFB relayed both ways in binary messages)")
            .Produces(StatusCodes.Status101SwitchingProtocols)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return machines;
    }

    private static async Task<IResult> Vnc(
        string id, Caller caller, MachineDisplays displays, IHostApplicationLifetime lifetime, HttpContext context, CancellationToken ct)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            var found = await displays.CheckAsync(caller, id, ct);
            return Problems.From(found.IsSuccess
                ? new Error("websocket-required", ErrorKind.Validation, "The console is a WebSocket: open it with an upgrade request (RFC 6455), for example with noVNC.")
                : found.Error!, context);
        }
        var opened = await displays.OpenAsync(caller, id, ct);
        if (!opened.IsSuccess)
        {
            return Problems.From(opened.Error!, context);
        }
        await using var session = opened.Value;
        var protocol = context.WebSockets.WebSocketRequestedProtocols.Contains(Subprotocol, StringComparer.OrdinalIgnoreCase) ? Subprotocol : null;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = protocol });
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        await ConsoleRelay.RunAsync(socket, session.Stream, displays.Options.IdleTimeout, stopping.Token);
        return Results.Empty;
    }
}

/// <summary>
/// Relays bytes between a WebSocket and a stream, frame by frame (never a whole message buffered): what the socket
/// receives is written to the stream as it arrives, what the stream yields is sent as binary messages. Ends when
/// either side closes, on <paramref name="ct"/>, or when nothing passed either way for the idle timeout; the
/// socket is then closed with a status that says why.
/// </summary>
public static class ConsoleRelay
{
    private const int BufferBytes = 16 * 1024;

    public static async Task RunAsync(WebSocket socket, Stream stream, TimeSpan idleTimeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(stream);
        using var idle = new CancellationTokenSource(idleTimeout);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, idle.Token);
        // The socket's receive is cancelled only by the request's end (cancelling it aborts the socket); the stream's side by either.
        var inbound = InboundAsync(socket, stream, idle, idleTimeout, ct, stop.Token);
        var outbound = OutboundAsync(stream, socket, idle, idleTimeout, stop.Token);
        var first = await Task.WhenAny(inbound, outbound);
        var (status, reason) = await first;
        if (idle.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            (status, reason) = (WebSocketCloseStatus.PolicyViolation,
                string.Create(CultureInfo.InvariantCulture, $"Closed after {idleTimeout.TotalMinutes:0.#} minutes without activity."));
        }
        else if (ct.IsCancellationRequested)
        {
            (status, reason) = (WebSocketCloseStatus.EndpointUnavailable, "The server is stopping.");
        }
        await stop.CancelAsync();
        await stream.DisposeAsync();
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseOutputAsync(status, reason, closing.Token);
            }
            if (first == outbound && socket.State == WebSocketState.CloseSent)
            {
                // Let the client answer the close; a client that does not is cut off.
                await inbound.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException or IOException)
        {
            // The client has gone.
        }
        socket.Abort();
        await Task.WhenAll(inbound, outbound);
    }

    private static async Task<(WebSocketCloseStatus, string)> InboundAsync(
        WebSocket socket, Stream stream, CancellationTokenSource idle, TimeSpan idleTimeout, CancellationToken requestAborted, CancellationToken stop)
    {
        var buffer = new byte[BufferBytes];
        try
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer.AsMemory(), requestAborted);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return (WebSocketCloseStatus.NormalClosure, "Closed by the client.");
                }
                if (received.MessageType == WebSocketMessageType.Text)
                {
                    return (WebSocketCloseStatus.InvalidMessageType, "The console carries binary messages only.");
                }
                idle.CancelAfter(idleTimeout);
                await stream.WriteAsync(buffer.AsMemory(0, received.Count), stop);
                await stream.FlushAsync(stop);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            return (WebSocketCloseStatus.EndpointUnavailable, "The machine's display closed.");
        }
    }

    private static async Task<(WebSocketCloseStatus, string)> OutboundAsync(
        Stream stream, WebSocket socket, CancellationTokenSource idle, TimeSpan idleTimeout, CancellationToken stop)
    {
        var buffer = new byte[BufferBytes];
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(), stop);
                if (read == 0)
                {
                    return (WebSocketCloseStatus.EndpointUnavailable, "The machine's display closed (the machine stopped).");
                }
                idle.CancelAfter(idleTimeout);
                await socket.SendAsync(buffer.AsMemory(0, read), WebSocketMessageType.Binary, endOfMessage: true, stop);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            return (WebSocketCloseStatus.EndpointUnavailable, "The machine's display closed.");
        }
    }
}
