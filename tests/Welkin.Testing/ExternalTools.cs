using System.Diagnostics;

namespace Welkin.Testing;

/// <summary>The machine's own programs that tests run: qemu-img, PostgreSQL's tools, the guest build script.</summary>
public static class ExternalTools
{
    /// <summary>Runs <paramref name="file"/> to its end and returns what it wrote to standard output; a non-zero exit fails with everything it wrote.</summary>
    public static async Task<string> RunAsync(string file, IReadOnlyList<string> args, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().ConfigureAwait(false);
        var output = await stdout.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}\n{await stderr.ConfigureAwait(false)}");
        }
        return output;
    }

    /// <summary>qemu-img with <paramref name="args"/>, for tests that are not async; its standard output.</summary>
    public static string QemuImg(params string[] args) => RunAsync("qemu-img", args).GetAwaiter().GetResult();

    public static Task<string> QemuImgAsync(params string[] args) => RunAsync("qemu-img", args);
}
