using System.Text;
using Welkin.Contracts;
using Welkin.Core.Compute;

namespace Welkin.Compute.Simulated;

/// <summary>What the simulated fabric records about one machine, for tests and demonstrations.</summary>
public sealed record SimulatedMachineDetails(
    string MachineId,
    string Host,
    DriverMachineState State,
    int Vcpus,
    long MemoryMiB,
    string PrivateAddress,
    AccessEndpoint Ssh,
    IReadOnlyList<VolumeAttachment> Volumes,
    IReadOnlyList<NetworkAttachment> Networks,
    IReadOnlyDictionary<string, string> Properties,
    LoadProfile Load,
    string? Error,
    IReadOnlyList<DataDisk>? DataDisks = null);

/// <summary>
/// One simulated machine. Its fields are guarded by the driver's lock; the driver's machine table
/// serialises the operations on it, as a hypervisor serialises the commands on one domain.
/// </summary>
internal sealed class SimulatedMachine(MachineSpec spec, HostSlot host, int addressOffset, string managementAddress, int sshPort, int consoleBytes)
{
    private readonly Queue<string> _console = new();
    private int _consoleChars;
    private DateTimeOffset _bootedAt;
    private DateTimeOffset _countedUntil;
    private double _cpuMs;
    private double _pageFaults;
    private double _diskRead;
    private double _diskWrite;
    private double _rx;
    private double _tx;

    public MachineSpec Spec { get; } = spec;

    /// <summary>The host the machine runs on (a migration changes it).</summary>
    public HostSlot Host { get; set; } = host;

    /// <summary>The host whose address block the machine's private address came from; it keeps the address when it moves.</summary>
    public HostSlot AddressSlot { get; } = host;

    public int AddressOffset { get; } = addressOffset;

    public string PrivateAddress { get; } = host.Address(addressOffset);

    public string ManagementAddress { get; } = managementAddress;

    public int SshPort { get; } = sshPort;

    public DriverMachineState State { get; private set; } = DriverMachineState.Creating;

    public string? Error { get; private set; }

    public int Vcpus { get; set; } = spec.Vcpus;

    public long MemoryMiB { get; set; } = spec.MemoryMiB;

    public List<VolumeAttachment> Volumes { get; } = [.. spec.Volumes];

    public List<NetworkAttachment> Networks { get; } = [.. spec.Networks];

    public IReadOnlyDictionary<string, string> Properties { get; set; } = spec.Properties;

    public LoadProfile Load { get; set; } = LoadProfile.Default;

    /// <summary>True when the machine's own load was set: it then takes no share of its instance's demand.</summary>
    public bool Pinned { get; set; }

    /// <summary>Called under the driver's lock after every change of <see cref="State"/>.</summary>
    public Action<SimulatedMachine, DateTimeOffset>? StateChanged { get; set; }

    /// <summary>Counts crashes, so an operation under way notices that its machine died meanwhile.</summary>
    public int Crashes { get; set; }

    public bool IsActive => State is DriverMachineState.Running or DriverMachineState.Paused;

    /// <summary>Moves to <paramref name="state"/>, first counting the work done in the old one.</summary>
    public void Enter(DriverMachineState state, DateTimeOffset now, string? error = null)
    {
        Count(now);
        var changed = State != state;
        State = state;
        Error = state == DriverMachineState.Error ? error : null;
        if (changed)
        {
            StateChanged?.Invoke(this, now);
        }
    }

    /// <summary>A fresh guest process: counters restart at zero (they count "since the machine started").</summary>
    public void PowerOn(DateTimeOffset now)
    {
        _bootedAt = now;
        _countedUntil = now;
        _cpuMs = _pageFaults = _diskRead = _diskWrite = _rx = _tx = 0;
    }

    /// <summary>A guest reset: the kernel starts again, the process and its counters go on.</summary>
    public void Restarted(DateTimeOffset now) => _bootedAt = now;

    public void Count(DateTimeOffset now)
    {
        if (State == DriverMachineState.Running && now > _countedUntil)
        {
            var load = Load;
            var seconds = (now - _countedUntil).TotalSeconds;
            _cpuMs += seconds * 1000 * Vcpus * load.CpuUtilizationPercent / 100;
            _pageFaults += seconds * load.PageFaultsPerSecond;
            _diskRead += seconds * load.DiskReadBytesPerSecond;
            _diskWrite += seconds * load.DiskWriteBytesPerSecond;
            _rx += seconds * load.NetworkRxBytesPerSecond;
            _tx += seconds * load.NetworkTxBytesPerSecond;
        }
        _countedUntil = now;
    }

    public MachineMetrics Metrics(DateTimeOffset now)
    {
        Count(now);
        var load = Load;
        var running = State == DriverMachineState.Running;
        var memory = IsActive ? (long)(MemoryMiB * 1024 * 1024 * load.MemoryUsedFraction) : 0;
        return new MachineMetrics(now, running ? load.CpuUtilizationPercent : 0, (long)_cpuMs, memory, (long)_pageFaults,
            (long)_diskRead, (long)_diskWrite, (long)_rx, (long)_tx);
    }

    public DriverMachine ToDriver()
    {
        var addresses = new string[1 + Networks.Count];
        addresses[0] = PrivateAddress;
        for (var i = 0; i < Networks.Count; i++)
        {
            addresses[i + 1] = Networks[i].Address;
        }
        return new DriverMachine(Spec.MachineId, Host.Host.Name, State, Vcpus, MemoryMiB, addresses,
            [new AccessEndpoint("ssh", ManagementAddress, SshPort, "ssh")], Error);
    }

    public SimulatedMachineDetails Details() =>
        new(Spec.MachineId, Host.Host.Name, State, Vcpus, MemoryMiB, PrivateAddress, new AccessEndpoint("ssh", ManagementAddress, SshPort, "ssh"),
            [.. Volumes], [.. Networks], new Dictionary<string, string>(Properties, StringComparer.Ordinal), Load, Error, Spec.DataDisks);

    /// <summary>What a booting kernel prints: the machine's size, disks and address.</summary>
    public void BootLines(DateTimeOffset now)
    {
        Kernel(now, "Linux version 6.6.0-welkin (simulated) #1 SMP PREEMPT_DYNAMIC");
        Kernel(now, "Command line: console=ttyS0 root=/dev/vda1 ro");
        Kernel(now, $"smpboot: Allowing {Vcpus} CPUs, 0 hotplug CPUs");
        Kernel(now, $"Memory: {MemoryMiB * 1024}K available");
        Kernel(now, $"virtio_blk virtio1: [vda] {Spec.DiskGiB} GiB");
        foreach (var disk in Spec.DataDisks)
        {
            Kernel(now, $"virtio_blk: [{disk.Device}] {disk.SizeGiB} GiB (data disk {disk.Name})");
        }
        foreach (var volume in Volumes)
        {
            Kernel(now, $"virtio_blk: [{volume.Device}] {volume.SizeGiB} GiB ({volume.VolumeId})");
        }
        Kernel(now, $"virtio_net virtio0 eth0: {PrivateAddress}");
    }

    /// <summary>What the guest prints once it is up, ending with the ready marker the real test guest prints.</summary>
    public void ReadyLines(DateTimeOffset now, string defaultOperatingSystem)
    {
        Kernel(now, "Run /sbin/init as init process");
        Write($"Welcome to {Spec.OperatingSystem ?? defaultOperatingSystem}!");
        Write($"sshd: listening on 0.0.0.0 port 22 (forwarded from {ManagementAddress}:{SshPort})");
        Write($"welkin-guest ready {Spec.MachineId} {PrivateAddress}");
    }

    /// <summary>A kernel-style console line stamped with the seconds since power-on.</summary>
    public void Kernel(DateTimeOffset now, string text) =>
        Write($"[{Math.Max(0, (now - _bootedAt).TotalSeconds),12:F6}] {text}");

    public void Write(string line)
    {
        _console.Enqueue(line);
        _consoleChars += line.Length + 1;
        while (_consoleChars > consoleBytes && _console.Count > 1)
        {
            _consoleChars -= _console.Dequeue().Length + 1;
        }
    }

    public string ConsoleTail(int maxBytes)
    {
        if (maxBytes <= 0)
        {
            return "";
        }
        var builder = new StringBuilder(_consoleChars);
        foreach (var line in _console)
        {
            builder.Append(line).Append('\n');
        }
        var bytes = Encoding.UTF8.GetBytes(builder.ToString());
        if (bytes.Length <= maxBytes)
        {
            return builder.ToString();
        }
        var start = bytes.Length - maxBytes;
        while (start < bytes.Length && (bytes[start] & 0xC0) == 0x80)
        {
            start++;
        }
        return Encoding.UTF8.GetString(bytes, start, bytes.Length - start);
    }
}
