using Welkin.Core.Compute;

namespace Welkin.Compute.Simulated;

/// <summary>The simulated fabric, configured under <c>Fabric</c>.</summary>
public sealed class SimulatedFabricOptions
{
    /// <summary>The hosts; when empty, a default fabric of four hosts in two jurisdictions.</summary>
    public List<FabricHost> Hosts { get; set; } = [];

    /// <summary>How long each operation takes (<c>Fabric:Timing</c>).</summary>
    public SimulatedTiming Timing { get; set; } = new();

    /// <summary>
    /// Memory the driver lets machines on one host reserve, per MiB of the host's memory. Placement
    /// decides where machines go; this is only a guard against a placement bug, so keep it at or
    /// above <c>PlacementOptions.MemoryOvercommit</c>.
    /// </summary>
    public double MemoryOvercommit { get; set; } = 1.5;

    /// <summary>Address the SSH port forwards listen on, for hosts without an entry in <see cref="ManagementAddresses"/>.</summary>
    public string ManagementAddress { get; set; } = "127.0.0.1";

    /// <summary>Per-host management addresses (host name → address).</summary>
    public Dictionary<string, string> ManagementAddresses { get; set; } = new(StringComparer.Ordinal);

    /// <summary>First host port handed out for SSH forwards.</summary>
    public int SshPortFirst { get; set; } = 20_000;

    /// <summary>Last host port handed out for SSH forwards.</summary>
    public int SshPortLast { get; set; } = 59_999;

    /// <summary>Bytes of serial console each machine keeps (older lines are dropped).</summary>
    public int ConsoleBytes { get; set; } = 64 * 1024;

    /// <summary>Operating system named in the console when the spec names none.</summary>
    public string DefaultOperatingSystem { get; set; } = "Welkin Linux";

    public static IReadOnlyList<FabricHost> DefaultHosts { get; } =
    [
        new("sim-us-east-1", "us-east", "US", 32, 131_072, 4_000),
        new("sim-us-east-2", "us-east", "US", 32, 131_072, 4_000),
        new("sim-eu-central-1", "eu-central", "DE", 32, 131_072, 4_000),
        new("sim-eu-central-2", "eu-central", "DE", 16, 65_536, 2_000),
    ];
}

/// <summary>
/// How long the simulated fabric takes per operation. The defaults are in the range a small QEMU
/// guest shows but short enough for a demonstration; <see cref="Zero"/> answers at once (tests,
/// benchmarks) and allocates no timers.
/// </summary>
public sealed class SimulatedTiming
{
    /// <summary>Deploying the image and booting the guest.</summary>
    public TimeSpan Create { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan Start { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>An ACPI power-down; a forced stop is immediate.</summary>
    public TimeSpan Stop { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan Pause { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan Resume { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan Reboot { get; set; } = TimeSpan.FromSeconds(1.5);

    public TimeSpan Resize { get; set; } = TimeSpan.FromMilliseconds(300);

    public TimeSpan Destroy { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Moving a machine to another host (live for a running machine, cold for a stopped one).</summary>
    public TimeSpan Migrate { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Hot-plugging a volume or NIC, and applying configuration properties.</summary>
    public TimeSpan Attach { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan Detach { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Random spread of every delay, as a fraction: 0.2 makes each one 80–120 % of its value.</summary>
    public double Jitter { get; set; }

    public static SimulatedTiming Zero => new()
    {
        Create = TimeSpan.Zero,
        Start = TimeSpan.Zero,
        Stop = TimeSpan.Zero,
        Pause = TimeSpan.Zero,
        Resume = TimeSpan.Zero,
        Reboot = TimeSpan.Zero,
        Resize = TimeSpan.Zero,
        Destroy = TimeSpan.Zero,
        Attach = TimeSpan.Zero,
        Detach = TimeSpan.Zero,
    };
}

/// <summary>
/// What a simulated guest does, so its counters advance like a real one's: CPU utilisation (of all
/// its vCPUs), resident memory as a fraction of its memory, and rates per second.
/// </summary>
public sealed record LoadProfile(
    double CpuUtilizationPercent,
    double MemoryUsedFraction,
    double PageFaultsPerSecond,
    long DiskReadBytesPerSecond,
    long DiskWriteBytesPerSecond,
    long NetworkRxBytesPerSecond,
    long NetworkTxBytesPerSecond)
{
    /// <summary>A lightly used server.</summary>
    public static LoadProfile Default { get; } = new(5, 0.3, 20, 64 * 1024, 32 * 1024, 16 * 1024, 8 * 1024);

    public static LoadProfile Idle { get; } = new(0, 0.1, 0, 0, 0, 0, 0);
}
