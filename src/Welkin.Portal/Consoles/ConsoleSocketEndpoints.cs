using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Portal.Sessions;

namespace Welkin.Portal.Consoles;

/// <summary>
/// The browser's end of a machine's console: <c>/machines/{id}/console/socket</c>, a WebSocket the console page's noVNC
/// opens. It is the person's by the portal session's cookie, so a page of another site must not open it (cross-site
/// WebSocket hijacking): a request whose Origin is not this site's is refused (403). The machine is resolved through the
/// person's client as every page does (another tenant's id: 404, as one that does not exist), and the frames are
/// relayed to and from the API's console WebSocket (<see cref="MachinesClient.OpenVncConsoleAsync"/>).
/// </summary>
public static class ConsoleSocketEndpoints
{
    public const string Subprotocol = "binary";

    public static IEndpointRouteBuilder MapConsoleSocket(this IEndpointRouteBuilder app)
    {
        app.MapGet("/machines/{id}/console/socket", RelayAsync).ExcludeFromDescription();
        return app;
    }

    /// <summary>Whether the request comes from a page of this site: its Origin names this scheme and host exactly.</summary>
    public static bool IsSameOrigin(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var origin = request.Headers.Origin.ToString();
        return origin.Length > 0 && Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.GetLeftPart(UriPartial.Authority), $"{request.Scheme}://{request.Host.Value}", StringComparison.OrdinalIgnoreCase);
    }

    private static async Task RelayAsync(string id, HttpContext context)
    {
        var ct = context.RequestAborted;
        context.Response.Headers.CacheControl = "no-store";
        if (!IsSameOrigin(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }
        var portal = context.RequestServices.GetRequiredService<PortalContext>();
        if (!portal.IsSignedIn)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        WebSocket api;
        try
        {
            api = await portal.Client().Machines.OpenVncConsoleAsync(id, ct);
        }
        catch (WelkinApiException e)
        {
            // What the API refuses to show is not there, as on the pages.
            context.Response.StatusCode = e.StatusCode is 400 or 403 or 404 ? StatusCodes.Status404NotFound : e.StatusCode;
            return;
        }
        catch (Exception e) when (e is HttpRequestException or WebSocketException)
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            return;
        }
        using (api)
        {
            var protocol = context.WebSockets.WebSocketRequestedProtocols.Contains(Subprotocol, StringComparer.OrdinalIgnoreCase) ? Subprotocol : null;
            using var browser = await context.WebSockets.AcceptWebSocketAsync(protocol);
            await SocketRelay.RunAsync(browser, api, ct);
        }
    }
}

/// <summary>Relays frames between two WebSockets as they come (never a whole message), and passes a close on.</summary>
internal static class SocketRelay
{
    private const int BufferBytes = 16 * 1024;

    public static async Task RunAsync(WebSocket browser, WebSocket api, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var up = PumpAsync(browser, api, stop.Token);
        var down = PumpAsync(api, browser, stop.Token);
        var first = await Task.WhenAny(up, down);
        var other = first == up ? down : up;
        // The other side has been told; give it a moment to answer the close.
        await Task.WhenAny(other, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
        await stop.CancelAsync();
        browser.Abort();
        api.Abort();
        await Task.WhenAll(up, down);
    }

    private static async Task PumpAsync(WebSocket from, WebSocket to, CancellationToken ct)
    {
        var buffer = new byte[BufferBytes];
        try
        {
            while (true)
            {
                var received = await from.ReceiveAsync(buffer.AsMemory(), ct);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await CloseAsync(to, from.CloseStatus is { } s and not WebSocketCloseStatus.Empty ? s : WebSocketCloseStatus.NormalClosure, from.CloseStatusDescription);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, ct);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            await CloseAsync(to, WebSocketCloseStatus.EndpointUnavailable, "The console's connection ended.");
        }
    }

    private static async Task CloseAsync(WebSocket socket, WebSocketCloseStatus status, string? reason)
    {
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseOutputAsync(status, reason, timeout.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Already gone.
        }
    }
}
