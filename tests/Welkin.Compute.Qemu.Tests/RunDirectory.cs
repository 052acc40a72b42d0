using Welkin.Testing;

namespace Welkin.Compute.Qemu.Tests;

/// <summary>A private directory for one machine's serial log, pid file and QMP socket.</summary>
public sealed class RunDirectory : IDisposable
{
    // Unix socket paths are limited to 108 bytes: keep the directory short.
    public string Path { get; } = Directory.CreateTempSubdirectory("wq-").FullName;

    public void Dispose() => TempDirectories.TryDelete(Path);
}
