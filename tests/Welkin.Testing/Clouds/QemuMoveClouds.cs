namespace Welkin.Testing.Clouds;

/// <summary>
/// <see cref="MoveClouds"/> where Cloud2's fabric is a pool of real QEMU machines too ("lab2", host
/// "cloud2-qemu"): both clouds run real guests, for moves that need a real machine at the peer (a live
/// move, a repatriation of a machine's disk).
/// </summary>
public sealed class QemuMoveClouds : MoveClouds
{
    public const string PeerLocalPool = "lab2";
    public const string PeerHost = "cloud2-qemu";

    public QemuMoveClouds()
        : base(QemuProviderSettings)
    {
    }

    private static readonly Dictionary<string, string?> QemuProviderSettings = new()
    {
        ["Fabric:Pools:lab2:Driver"] = "qemu",
        ["Fabric:Pools:lab2:Hosts:0:Name"] = PeerHost,
        ["Fabric:Pools:lab2:Hosts:0:Region"] = "eu-central",
        ["Fabric:Pools:lab2:Hosts:0:Jurisdiction"] = "DE",
        // The agreement's entitlement is 100 vCPUs, which Cloud2's policy admits only when its free capacity holds them (4 per core).
        ["Fabric:Pools:lab2:Hosts:0:Cores"] = "32",
        ["Fabric:Pools:lab2:Hosts:0:MemoryMiB"] = "8192",
        ["Fabric:Pools:lab2:Hosts:0:DiskGiB"] = "200",
        ["Fabric:Pools:lab2:StopMachinesOnShutdown"] = "true",
        // A machine arriving live brings its memory and one arriving as an OVA its disk, not their boot files: the destination starts QEMU with the pool's own guest kernel.
        ["Fabric:Pools:lab2:DefaultKernel"] = Path.Combine(GuestDirectory, "vmlinuz"),
        ["Fabric:Pools:lab2:DefaultInitrd"] = Path.Combine(GuestDirectory, "initrd.gz"),
    };

    /// <summary>Where <see cref="TestGuest"/> keeps its kernel and initrd.</summary>
    private static string GuestDirectory => Path.Combine(Path.GetTempPath(), "welkin-test-guest");

    /// <summary>Registers the test guest's image (kernel, initrd, an empty 64 MiB disk) on Cloud2; returns the disk image's id.</summary>
    public Task<string> RegisterPeerGuestAsync(TestGuest guest) => GuestImages.RegisterAsync(Provider.OrdinaryAdmin(), guest);
}
