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
    string? Error);

/// <summary>
/// One simulated machine. Its fields are guarded by the driver's lock; <see cref="Ops"/> serialises
/// the operations on it, as a hypervisor serialises the commands on one domain.
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

    public SemaphoreSlim Ops { get; } = new(1, 1);

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
            [.. Volumes], [.. Networks], new Dictionary<string, string>(Properties, StringComparer.Ordinal), Load, Error);

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

/// <summary>A host's share of the simulation: its memory reservations and its private address block.</summary>
internal sealed class HostSlot(FabricHost host, int index, int addressBits)
{
    private readonly HashSet<int> _usedAddresses = [];

    public FabricHost Host { get; } = host;

    public bool Failed { get; set; }

    public long ReservedMiB { get; set; }

    public int Machines { get; set; }

    /// <summary>
    /// The host's block of 10.0.0.0/8: the high bits are the host's index, the low bits the
    /// machine's offset. Offsets that would end in .0, .1 (the gateway) or .255 are never handed out.
    /// </summary>
    public string Address(int offset)
    {
        var value = (index << addressBits) | offset;
        return $"10.{(value >> 16) & 0xFF}.{(value >> 8) & 0xFF}.{value & 0xFF}";
    }

    /// <summary>Picks a free offset, starting from one derived from the machine id so the same machine tends to get the same address again.</summary>
    public int? AllocateAddress(string machineId)
    {
        var size = 1 << addressBits;
        var start = (int)(Hash(machineId) % (uint)size);
        for (var i = 0; i < size; i++)
        {
            var offset = (start + i) % size;
            var low = offset & 0xFF;
            if (low is 0 or 1 or 255 || !_usedAddresses.Add(offset))
            {
                continue;
            }
            return offset;
        }
        return null;
    }

    public void ReleaseAddress(int offset) => _usedAddresses.Remove(offset);

    // FNV-1a: stable across processes, unlike string.GetHashCode.
    internal static uint Hash(string s)
    {
        var h = 2166136261u;
        foreach (var c in s)
        {
            h = (h ^ c) * 16777619u;
        }
        return h;
    }
}
