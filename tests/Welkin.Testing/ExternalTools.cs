using System.Diagnostics;

namespace Welkin.Testing;

/// <summary>The machine's own programs that tests run: qemu-img, PostgreSQL's tools, the guest build script.</summary>
public static class ExternalTools
{
    /// <summary>Runs <paramref name="file"/> to its end and returns what it wrote to standard output; a non-zero exit fails with everything it wrote.</summary>
    public static async Task<string> RunAsync(string file, IReadOnlyList<string> args, string? workingDirectory = null)
    {
        using var process = Start(file, args, workingDirectory);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return Checked(process, file, args, await stdout, await stderr);
    }

    /// <summary>What <see cref="RunAsync"/> does, blocking, for tests that are not async.</summary>
    public static string Run(string file, IReadOnlyList<string> args)
    {
        using var process = Start(file, args, null);
        var stderr = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return Checked(process, file, args, output, stderr.GetAwaiter().GetResult());
    }

    public static string QemuImg(params string[] args) => Run("qemu-img", args);

    public static Task<string> QemuImgAsync(params string[] args) => RunAsync("qemu-img", args);

    private static Process Start(string file, IReadOnlyList<string> args, string? workingDirectory)
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
        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
    }

    private static string Checked(Process process, string file, IReadOnlyList<string> args, string output, string errors) =>
        process.ExitCode == 0
            ? output
            : throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}\n{errors}");
}
