using System.Diagnostics;

namespace Welkin.Server.Tests.S3;

/// <summary>Runs a real S3 client (awscli, s3cmd, rclone) with only the environment the test gives it, in a home directory of its own.</summary>
internal static class ClientProcess
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(
        string file, IEnumerable<string> args, Func<string, IReadOnlyDictionary<string, string>> environment, CancellationToken ct)
    {
        var home = Welkin.Testing.TempDirectories.NewPath("welkin-s3client-");
        Directory.CreateDirectory(home);
        try
        {
            var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg.Replace("{home}", home, StringComparison.Ordinal));
            }
            // Nothing of the machine's own configuration, credentials or cloud metadata.
            start.Environment.Clear();
            start.Environment["PATH"] = "/usr/bin:/bin";
            start.Environment["HOME"] = home;
            foreach (var (name, value) in environment(home))
            {
                start.Environment[name] = value;
            }
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            Welkin.Testing.TempDirectories.TryDelete(home);
        }
    }
}
