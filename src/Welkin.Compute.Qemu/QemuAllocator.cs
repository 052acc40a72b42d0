namespace Welkin.Compute.Qemu;

/// <summary>
/// Hands out what a machine takes of the fabric: the /24 of its user-mode network, host ports for
/// its forwards, a VNC display, and the L2 segment of each tenant network it joins. Pure: it is
/// told what the machines in use hold and asks <c>isPortFree</c> whether the host has a port free,
/// so it opens no socket and reads no file. Each search starts at a stable hash of the id, so a
/// machine tends to get the same subnet and ports back, and moves on past what is taken.
/// </summary>
internal sealed class QemuAllocator(int portFirst, int portLast, int displayFirst, int displayLast, Func<int, bool> isPortFree)
{
    /// <summary>Subnet n is 10.(n / 256).(n % 256).0/24, for n in 1..65,535.</summary>
    public const int Subnets = 65_535;

    /// <summary>QEMU's default user network, 10.0.2.0/24: left to machines Welkin did not make.</summary>
    public const int QemuDefaultSubnet = 2;

    /// <summary>VNC display n listens on this port plus n.</summary>
    public const int VncBasePort = 5900;

    public int? Subnet(string machineId, IEnumerable<QemuMachineRecord> inUse)
    {
        var used = inUse.Select(r => r.Subnet).ToHashSet();
        var start = (int)(Hash(machineId) % Subnets);
        for (var i = 0; i < Subnets; i++)
        {
            var candidate = 1 + ((start + i) % Subnets);
            if (candidate != QemuDefaultSubnet && used.Add(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>A host port for <paramref name="key"/> (machine and protocol) that no machine holds, none of <paramref name="alsoTaken"/>, and free on the host.</summary>
    public int? Port(string key, IEnumerable<QemuMachineRecord> inUse, IEnumerable<int> alsoTaken)
    {
        var used = inUse.SelectMany(r => r.Ports.Values).Concat(alsoTaken).ToHashSet();
        var size = portLast - portFirst + 1;
        var start = (int)(Hash(key) % (uint)size);
        for (var i = 0; i < size; i++)
        {
            var port = portFirst + ((start + i) % size);
            if (!used.Contains(port) && isPortFree(port))
            {
                return port;
            }
        }
        return null;
    }

    /// <summary>The lowest display no machine holds whose port is free on the host.</summary>
    public int? Display(IEnumerable<QemuMachineRecord> inUse)
    {
        var used = inUse.Select(r => r.VncDisplay).OfType<int>().ToHashSet();
        for (var display = displayFirst; display <= displayLast; display++)
        {
            if (!used.Contains(display) && isPortFree(VncBasePort + display))
            {
                return display;
            }
        }
        return null;
    }

    /// <summary>
    /// The L2 segment of a tenant network: the one its NICs already use, or a multicast group in
    /// 239.192.0.0/14 (organisation-local scope) and a port derived from the network's id. Networks
    /// are told apart by group and port together; one that would collide with another in use takes
    /// the next free pair.
    /// </summary>
    public static (string Group, int Port) Segment(string networkId, IEnumerable<QemuMachineRecord> inUse)
    {
        var nics = inUse.SelectMany(r => r.Nics).ToList();
        if (nics.Find(n => n.Nic.NetworkId == networkId) is { } existing)
        {
            return (existing.Group, existing.Port);
        }
        var taken = nics.Select(n => (n.Group, n.Port)).ToHashSet();
        var hash = Hash(networkId);
        for (uint i = 0; ; i++)
        {
            var h = hash + i;
            var group = $"239.{192 + ((h >> 16) & 3)}.{(h >> 8) & 255}.{h & 255}";
            var port = 40_000 + (int)((h >> 18) % 20_000);
            if (!taken.Contains((group, port)))
            {
                return (group, port);
            }
        }
    }

    public static uint Hash(string text)
    {
        // FNV-1a: stable across runs, unlike string.GetHashCode.
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return hash;
    }
}
