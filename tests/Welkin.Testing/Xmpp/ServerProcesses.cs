using System.Diagnostics;

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
}
