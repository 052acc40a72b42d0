using Welkin.Compute.Qemu;

namespace Welkin.Testing;

/// <summary>
/// The test guest (Debian kernel + busybox initramfs), built once per run by
/// scripts/build-test-guest.sh into a cache directory the script reuses when complete. An assembly
/// that boots it declares <c>[assembly: AssemblyFixture(typeof(TestGuest))]</c>, so one instance
/// serves all its tests.
/// </summary>
public sealed class TestGuest : IAsyncLifetime
{
    public string Kernel => Path.Combine(Directory, "vmlinuz");

    public string Initrd => Path.Combine(Directory, "initrd.gz");

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "welkin-test-guest");

    public async ValueTask InitializeAsync() =>
        await ExternalTools.RunAsync(Repository.Path("scripts", "build-test-guest.sh"), [Directory]);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public QemuLaunchOptions Options(string name, string runDirectory, params HostForward[] forwards) =>
        new(name, runDirectory, Kernel, Initrd, HostForwards: forwards);

    /// <summary>Ids of live processes whose command line mentions <paramref name="text"/> (a machine's run directory).</summary>
    public static IReadOnlyList<int> ProcessesMentioning(string text) => QemuProcess.ProcessesMentioning(text);

    /// <summary>Ends every QEMU whose command line mentions <paramref name="text"/>: whatever a failed test left running.</summary>
    public static async Task KillProcessesMentioningAsync(string text)
    {
        foreach (var pid in ProcessesMentioning(text))
        {
            await QemuProcess.KillAsync(pid);
        }
    }
}
