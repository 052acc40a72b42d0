using Welkin.Testing;

namespace Welkin.Server.Tests.Infrastructure;

/// <summary>A <see cref="WelkinApp"/> on the QEMU fabric: two logical hosts running real virtual machines, stopped when the server stops.</summary>
public class QemuWelkinApp : WelkinApp
{
    public const string HostA = "qemu-a";
    public const string HostB = "qemu-b";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Fabric"] = "qemu",
        ["Fabric:Hosts:0:Name"] = HostA,
        ["Fabric:Hosts:0:Region"] = "local",
        ["Fabric:Hosts:0:Jurisdiction"] = "US",
        ["Fabric:Hosts:0:Cores"] = "8",
        ["Fabric:Hosts:0:MemoryMiB"] = "8192",
        ["Fabric:Hosts:0:DiskGiB"] = "200",
        ["Fabric:Hosts:1:Name"] = HostB,
        ["Fabric:Hosts:1:Region"] = "local",
        ["Fabric:Hosts:1:Jurisdiction"] = "US",
        ["Fabric:Hosts:1:Cores"] = "8",
        ["Fabric:Hosts:1:MemoryMiB"] = "8192",
        ["Fabric:Hosts:1:DiskGiB"] = "200",
        ["Fabric:StopMachinesOnShutdown"] = "true",
    };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await TestGuest.KillProcessesMentioningAsync(DataDir);
        GC.SuppressFinalize(this);
    }
}
