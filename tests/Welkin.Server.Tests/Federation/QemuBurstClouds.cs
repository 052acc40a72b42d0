using Welkin.Testing;
using Welkin.Testing.Clouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// <see cref="BurstClouds"/> where US's and DE's own pools run real QEMU guests (the test guest, 1 vCPU, 256 MiB, a
/// 1 GiB disk): US's host holds one such machine, DE's many. CloudCoC, the broker, has no hosts, as before.
/// DE's pool boots a machine arriving live with its own copy of the guest's kernel and initrd.
/// </summary>
public sealed class QemuBurstClouds : BurstClouds
{
    // The assembly fixture built the guest before any test runs; this instance only names its files.
    private readonly TestGuest _guest = new();

    protected override (int Vcpus, long MemoryMiB, long DiskGiB) MachineSize => (1, 256, 1);

    protected override IEnumerable<string> LocalPoolArguments(string user) => user == "us"
        ? Qemu("us-qemu-1", "us-east", "US", memoryMiB: 384)
        : Qemu("de-qemu-1", "eu-central", "DE", memoryMiB: 8192);

    private string[] Qemu(string host, string region, string jurisdiction, long memoryMiB) =>
    [
        $"--Fabric:Pools:{LocalPool}:Driver=qemu",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:Name={host}",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:Region={region}",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:Jurisdiction={jurisdiction}",
        // DE's policy admits the agreements' entitlements (10 vCPUs each) only when its free capacity holds them (4 per core).
        $"--Fabric:Pools:{LocalPool}:Hosts:0:Cores=32",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:MemoryMiB={memoryMiB}",
        $"--Fabric:Pools:{LocalPool}:Hosts:0:DiskGiB=200",
        $"--Fabric:Pools:{LocalPool}:StopMachinesOnShutdown=true",
        $"--Fabric:Pools:{LocalPool}:DefaultKernel={_guest.Kernel}",
        $"--Fabric:Pools:{LocalPool}:DefaultInitrd={_guest.Initrd}",
        $"--Fabric:Pools:{LocalPool}:Labels:jurisdiction={jurisdiction}",
        $"--Fabric:Pools:{LocalPool}:Labels:region={region}",
    ];

    protected override async Task<string?> ImageAsync(string user) => await GuestImages.RegisterAsync(Admin(user), _guest);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var cloud in Clouds)
        {
            await TestGuest.KillProcessesMentioningAsync(DataDirectory(cloud.User));
        }
        GC.SuppressFinalize(this);
    }
}
