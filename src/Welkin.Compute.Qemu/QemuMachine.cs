using System.Text.Json;
using System.Text.Json.Serialization;
using Welkin.Contracts;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>A volume as a machine has it: which hot-plug port it sits on while the machine runs.</summary>
public sealed record QemuVolume(VolumeAttachment Volume, string Path, string? Bus);

/// <summary>A NIC on a tenant network, with the L2 segment (multicast group and port) of that network.</summary>
public sealed record QemuNic(NetworkAttachment Nic, string Group, int Port, string? Bus);

/// <summary>
/// What the driver keeps about one machine in <c>machine.json</c> of its directory, written before
/// every change takes effect, so a restarted Welkin finds the machine as it was: its spec and size,
/// the subnet, ports and display it was given, its volumes, NICs and properties, and which of the
/// two launch slots (<c>a</c>, <c>b</c>: a live migration starts the destination in the other) runs it.
/// </summary>
public sealed class QemuMachineRecord
{
    public required MachineSpec Spec { get; init; }

    public required string Host { get; set; }

    public int Vcpus { get; set; }

    public long MemoryMiB { get; set; }

    /// <summary>The machine's /24 in 10.0.0.0/8 (its user-mode network): 10.(n / 256).(n % 256).0/24.</summary>
    public int Subnet { get; set; }

    public Dictionary<string, int> Ports { get; set; } = new(StringComparer.Ordinal);

    public int? VncDisplay { get; set; }

    public List<QemuVolume> Volumes { get; set; } = [];

    public List<QemuNic> Nics { get; set; } = [];

    public Dictionary<string, string> Properties { get; set; } = new(StringComparer.Ordinal);

    public string Slot { get; set; } = "a";

    /// <summary>PCIe root ports the machine has at least; null takes the fabric's setting. A machine that came by a live move keeps its source's, so its devices match.</summary>
    public int? HotplugPorts { get; set; }

    /// <summary>Kernel, ramdisk and command line the machine boots (the driver's own copies).</summary>
    public string Kernel { get; set; } = "";

    public string Initrd { get; set; } = "";

    public string? CommandLine { get; set; }

    /// <summary>The console line that says the guest is up; null when the image names none (the machine runs once QEMU does).</summary>
    public string? ReadyMarker { get; set; }

    /// <summary>The last error (a crash, a failed host); cleared by a start or stop.</summary>
    public string? Error { get; set; }

    /// <summary>Whether the disk and the rest of the machine were fully made (a create that died half-way is redone).</summary>
    public bool Created { get; set; }

    private static readonly JsonSerializerOptions Json = new(WelkinJson.Client) { WriteIndented = true };

    public static QemuMachineRecord? Load(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<QemuMachineRecord>(File.ReadAllText(path), Json) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes the record atomically (a temporary file renamed over the old one, flushed first).</summary>
    public void Save(string path)
    {
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, this, Json);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    [JsonIgnore]
    public string Address => $"10.{Subnet / 256}.{Subnet % 256}.15";

    [JsonIgnore]
    public string Gateway => $"10.{Subnet / 256}.{Subnet % 256}.2";
}

/// <summary>
/// One machine as the driver tracks it in memory: the record, the QEMU process while it runs, and
/// its state. Its fields are guarded by the fabric's lock; the machine table serialises operations on it.
/// </summary>
internal sealed class QemuMachine(QemuMachineRecord record, string directory)
{
    public QemuMachineRecord Record { get; } = record;

    public string Directory { get; } = directory;

    public string Id => Record.Spec.MachineId;

    public DriverMachineState State { get; set; } = DriverMachineState.Creating;

    public QemuProcess? Process { get; set; }

    public QemuMetrics? Sampler { get; set; }

    /// <summary>The last sample: a stopped machine's counters stay where they were.</summary>
    public MachineMetrics? LastMetrics { get; set; }

    /// <summary>Set while the machine waits for a live move from another fabric: whether its guest runs once it has arrived.</summary>
    public bool? IncomingRuns { get; set; }

    /// <summary>Set before Welkin ends the process itself, so its exit is not taken for a crash.</summary>
    public bool ExitExpected { get; set; }

    public string RecordPath => Path.Combine(Directory, "machine.json");

    public string DiskPath => Path.Combine(Directory, "disk.qcow2");

    /// <summary>A data disk's qcow2 beside the system disk, named by its device (vdb, vdc, …), so it goes with the machine's directory.</summary>
    public string DataDiskPath(DataDisk disk) => Path.Combine(Directory, $"data-{disk.Device}.qcow2");

    /// <summary>The disk id (QEMU node <c>disk-ID</c>, device <c>dev-ID</c>) of a data disk.</summary>
    public static string DataDiskId(DataDisk disk) => "data-" + disk.Device;

    public string HistoryPath => Path.Combine(Directory, "console.history");

    public string PropertiesPath => Path.Combine(Directory, "properties.json");

    public string RunDirectory(string slot) => Path.Combine(Directory, "run-" + slot);

    public void Save() => Record.Save(RecordPath);

    public DriverMachine ToDriver(string managementAddress)
    {
        var addresses = new List<string> { Record.Address };
        addresses.AddRange(Record.Nics.Select(n => n.Nic.Address));
        var endpoints = Record.Ports.Select(p => new AccessEndpoint(p.Key, managementAddress, p.Value)).ToList();
        if (Record.VncDisplay is { } display)
        {
            endpoints.Add(new AccessEndpoint("vnc", managementAddress, 5900 + display, "display"));
        }
        return new DriverMachine(Id, Record.Host, State, Record.Vcpus, Record.MemoryMiB, addresses, endpoints,
            State == DriverMachineState.Error ? Record.Error ?? "The machine is in error." : null);
    }
}
