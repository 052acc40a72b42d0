using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Welkin.Testing.Xmpp;

/// <summary>Running the command-line tools of the XMPP server fixtures (openssl, chown, prosodyctl, ejabberdctl).</summary>
public static class ServerProcesses
{
    public static ProcessStartInfo StartInfo(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    public static Task RunAsync(string file, params string[] arguments) => RunAsync(StartInfo(file, arguments));

    /// <summary>Runs the tool to its end; a non-zero exit fails with what it printed.</summary>
    public static async Task RunAsync(ProcessStartInfo info)
    {
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{info.FileName} failed ({process.ExitCode}): {error}{await output}");
        }
    }

    /// <summary>
    /// Waits until <paramref name="port"/> on loopback accepts connections, polling every 100 ms up to
    /// <paramref name="attempts"/> times; fails with the server's log when it exits first or never opens it.
    /// </summary>
    public static async Task WaitForPortAsync(Process process, int port, string server, Func<string> log, int attempts)
    {
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{server} exited at start-up: " + log());
            }

            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        throw new InvalidOperationException($"{server} did not open port {port}: " + log());
    }
}
