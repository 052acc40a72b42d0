using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Simulated;

/// <summary>
/// What simulated machines take of their hosts: memory reserved against the host's memory (times
/// <see cref="SimulatedFabricOptions.MemoryOvercommit"/>), a private address from the host's block
/// of 10.0.0.0/8 and an SSH port on its management address. Guarded by the driver's lock.
/// </summary>
internal sealed class SimulatedHosts
{
    private readonly Dictionary<string, HostSlot> _slots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<int>> _usedPorts = new(StringComparer.Ordinal);
    private readonly SimulatedFabricOptions _options;

    public SimulatedHosts(SimulatedFabricOptions options, IReadOnlyList<FabricHost> hosts)
    {
        _options = options;
        if (hosts.Count > 1 << 16)
        {
            throw new ArgumentException("The simulated fabric has room for at most 65,536 hosts.", nameof(options));
        }
        // Each host gets an equal block of 10.0.0.0/8: at least 256 blocks, each at least a /24.
        var hostBits = Math.Max(8, (int)Math.Ceiling(Math.Log2(Math.Max(1, hosts.Count))));
        for (var i = 0; i < hosts.Count; i++)
        {
            if (!_slots.TryAdd(hosts[i].Name, new HostSlot(hosts[i], i, 24 - hostBits)))
            {
                throw new ArgumentException($"Host '{hosts[i].Name}' appears twice.", nameof(options));
            }
        }
    }

    public HostSlot? Find(string host) => _slots.GetValueOrDefault(host);

    /// <summary>
    /// Checks the host and reserves what a new machine takes on it. A machine being recovered is
    /// taken back even on a failed or full host (it is there already).
    /// </summary>
    public Result<SimulatedMachine> Admit(MachineSpec spec, bool recovering)
    {
        if (!_slots.TryGetValue(spec.Host, out var slot))
        {
            return DriverErrors.UnknownHost(spec.Host);
        }
        if (!recovering)
        {
            if (slot.Failed)
            {
                return DriverErrors.HostUnavailable(spec.Host);
            }
            if (spec.Vcpus < 1 || spec.MemoryMiB < 1)
            {
                return Error.Validation(spec.Vcpus < 1 ? "vcpus" : "memoryMiB", "Must be at least 1.");
            }
            if (DataDisks.Check(spec.DataDisks) is { } badDisks)
            {
                return badDisks;
            }
            if (Room(slot, spec.MemoryMiB) is { } full)
            {
                return full;
            }
        }
        if (slot.AllocateAddress(spec.MachineId) is not { } offset)
        {
            return DriverErrors.HostUnavailable(spec.Host) with { Detail = $"Host '{spec.Host}' has no private address left." };
        }
        var management = _options.ManagementAddresses.GetValueOrDefault(spec.Host) ?? _options.ManagementAddress;
        if (AllocatePort(management, spec.MachineId) is not { } port)
        {
            slot.ReleaseAddress(offset);
            return DriverErrors.HostUnavailable(spec.Host) with { Detail = $"No SSH port is left on {management}." };
        }
        slot.ReservedMiB += spec.MemoryMiB;
        slot.Machines++;
        return new SimulatedMachine(spec, slot, offset, management, port, _options.ConsoleBytes);
    }

    /// <summary>Gives back what the machine took.</summary>
    public void Release(SimulatedMachine machine)
    {
        machine.AddressSlot.ReleaseAddress(machine.AddressOffset);
        machine.Host.ReservedMiB -= machine.MemoryMiB;
        machine.Host.Machines--;
        _usedPorts[machine.ManagementAddress].Remove(machine.SshPort);
    }

    /// <summary>Null when the host can reserve <paramref name="memoryMiB"/> more; otherwise why not.</summary>
    public Error? Room(HostSlot slot, long memoryMiB) =>
        slot.ReservedMiB + memoryMiB > slot.Host.MemoryMiB * _options.MemoryOvercommit ? OutOfMemory(slot, memoryMiB) : null;

    /// <summary>Changes the machine's memory reservation (a resize); an error when the host cannot hold the growth.</summary>
    public Error? Resize(SimulatedMachine machine, long memoryMiB)
    {
        var reserved = machine.Host.ReservedMiB - machine.MemoryMiB + memoryMiB;
        if (memoryMiB > machine.MemoryMiB && reserved > machine.Host.Host.MemoryMiB * _options.MemoryOvercommit)
        {
            return OutOfMemory(machine.Host, memoryMiB);
        }
        machine.Host.ReservedMiB = reserved;
        return null;
    }

    /// <summary>Moves the machine's reservation to <paramref name="target"/> (it keeps its address and port).</summary>
    public static void Move(SimulatedMachine machine, HostSlot target)
    {
        machine.Host.ReservedMiB -= machine.MemoryMiB;
        machine.Host.Machines--;
        target.ReservedMiB += machine.MemoryMiB;
        target.Machines++;
        machine.Host = target;
    }

    private static Error OutOfMemory(HostSlot slot, long memoryMiB) =>
        DriverErrors.HostUnavailable(slot.Host.Name) with
        {
            Detail = $"Host '{slot.Host.Name}' cannot hold another {memoryMiB} MiB: {slot.ReservedMiB} MiB of its {slot.Host.MemoryMiB} MiB are reserved.",
        };

    private int? AllocatePort(string management, string machineId)
    {
        if (!_usedPorts.TryGetValue(management, out var used))
        {
            used = [];
            _usedPorts[management] = used;
        }
        var size = _options.SshPortLast - _options.SshPortFirst + 1;
        var start = (int)(HostSlot.Hash(machineId) % (uint)size);
        for (var i = 0; i < size; i++)
        {
            var port = _options.SshPortFirst + ((start + i) % size);
            if (used.Add(port))
            {
                return port;
            }
        }
        return null;
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
