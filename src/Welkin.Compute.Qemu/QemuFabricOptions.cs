using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>The QEMU fabric, configured under <c>Fabric</c> when <c>Welkin:Fabric</c> is <c>qemu</c>.</summary>
public sealed class QemuFabricOptions
{
    /// <summary>
    /// Where machines, base images and volumes live. The hosts of one fabric share it (as hosts of a
    /// cloud share storage), which is what lets a machine move between them. The server uses
    /// <c>&lt;data-dir&gt;/qemu</c> when this is empty.
    /// </summary>
    public string Root { get; set; } = "";

    /// <summary>
    /// The hosts. On one machine they are logical hosts sharing its cores and memory, each with the
    /// capacity given here; when empty, one host named <c>qemu-local</c> with this machine's cores
    /// and three quarters of its memory.
    /// </summary>
    public List<FabricHost> Hosts { get; set; } = [];

    /// <summary>vCPUs machines on one host may hold, per core of the host.</summary>
    public double CpuOvercommit { get; set; } = 4;

    /// <summary>Memory machines on one host may hold, per MiB of the host (QEMU touches guest memory only as the guest uses it).</summary>
    public double MemoryOvercommit { get; set; } = 1;

    /// <summary>How long a stop waits for the guest to power off after the ACPI power button before QEMU is told to quit.</summary>
    public TimeSpan PowerdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>tcg</c> (software emulation, the default), <c>kvm</c>, or <c>auto</c>: KVM only when a probe,
    /// run once at the first launch, boots the default guest under KVM to its ready marker within
    /// <see cref="KvmProbeTimeout"/>; where <c>/dev/kvm</c> exists but the CPU lacks VT-x/AMD-V it is far slower than TCG.
    /// </summary>
    public string Accelerator { get; set; } = "tcg";

    public TimeSpan KvmProbeTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Kernel booted by machines whose image has none (and by machines with no image).</summary>
    public string? DefaultKernel { get; set; }

    /// <summary>Initial ramdisk booted with <see cref="DefaultKernel"/>.</summary>
    public string? DefaultInitrd { get; set; }

    /// <summary>
    /// The line the default guest prints on its serial console when it is up: machines booting the
    /// default kernel are running once it appears (images name their own marker, or none).
    /// </summary>
    public string ReadyMarker { get; set; } = "welkin-guest ready";

    /// <summary>How long a start waits for the guest's ready marker before the start fails.</summary>
    public TimeSpan BootTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>Address the port forwards listen on (the machines' access endpoints).</summary>
    public string ManagementAddress { get; set; } = "127.0.0.1";

    /// <summary>First host port handed out for port forwards.</summary>
    public int PortFirst { get; set; } = 20_000;

    /// <summary>Last host port handed out for port forwards.</summary>
    public int PortLast { get; set; } = 39_999;

    /// <summary>The guest ports each machine's access endpoints forward to, by protocol; the first is the one the API lists first.</summary>
    public Dictionary<string, int> Forwards { get; set; } = new(StringComparer.Ordinal) { ["ssh"] = 22, ["http"] = 80 };

    /// <summary>First VNC display number (port 5900 + n) for machines that have a display (property <c>display=vnc</c>).</summary>
    public int VncDisplayFirst { get; set; } = 100;

    public int VncDisplayLast { get; set; } = 999;

    /// <summary>Free PCIe root ports each machine gets for volumes and NICs added while it runs.</summary>
    public int HotplugPorts { get; set; } = 6;

    /// <summary>How long a hot-unplug waits for the guest to release the device.</summary>
    public TimeSpan UnplugTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a live move to another fabric may take (disk copy and guest state) before it is abandoned and the machine stays.</summary>
    public TimeSpan CrossMigrationTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Bytes of console history kept from earlier boots and hosts of a machine.</summary>
    public int ConsoleHistoryBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// Whether stopping Welkin stops the machines. By default they run on, and a restarted Welkin
    /// re-attaches to them: the control plane is not the data plane.
    /// </summary>
    public bool StopMachinesOnShutdown { get; set; }

    public string Executable { get; set; } = "qemu-system-x86_64";

    public string ImageTool { get; set; } = "qemu-img";
}
