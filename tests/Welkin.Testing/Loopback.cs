using System.Net;
using System.Net.Sockets;

namespace Welkin.Testing;

public static class Loopback
{
    /// <summary>A TCP port free on 127.0.0.1 when asked; whoever binds it later may still lose a race for it.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
