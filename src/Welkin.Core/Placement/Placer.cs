using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Core.Placement;

public sealed class PlacementOptions
{
    /// <summary>vCPUs that may be placed per physical core (1 = no overcommit).</summary>
    public double CpuOvercommit { get; set; } = 4.0;

    /// <summary>Memory that may be promised per MiB of host memory (1 = no overcommit).</summary>
    public double MemoryOvercommit { get; set; } = 1.0;

    /// <summary>Disk that may be promised per GiB of host disk (thin-provisioned overlays allow more than 1).</summary>
    public double DiskOvercommit { get; set; } = 1.0;
}

/// <summary>What a machine needs and where it may run.</summary>
/// <param name="Jurisdictions">Allowed jurisdictions (offering constraints intersected with the request's); null = anywhere.</param>
/// <param name="Regions">Allowed regions; null = anywhere.</param>
/// <param name="AntiAffinityGroup">Machines of one group never share a host (for example an instance's tier).</param>
/// <param name="Hosts">The only hosts that may take it (a machine arriving live needs a host whose driver receives one); null = any.</param>
public sealed record PlacementRequest(
    int Vcpus,
    long MemoryMiB,
    long DiskGiB,
    IReadOnlyCollection<string>? Jurisdictions = null,
    IReadOnlyCollection<string>? Regions = null,
    string? AntiAffinityGroup = null,
    IReadOnlySet<string>? Hosts = null);

/// <summary>A reservation on a host, returned by <see cref="Placer.Place"/> and given back to <see cref="Placer.Release"/>.</summary>
public sealed record Placement(string Host, int Vcpus, long MemoryMiB, long DiskGiB, string? AntiAffinityGroup);

/// <summary>
/// Chooses a host for each machine and accounts for the capacity it takes. Among the hosts that
/// satisfy the constraints and have room (after the configured overcommit), it picks the one with
/// the most memory left — spreading load, so a host failure touches as few machines as possible.
/// Capacity is held in flat arrays and scanned once per decision: at 10,000 hosts that is a few
/// tens of microseconds (bench/README.md) and needs no index to keep consistent.
/// Hosts of peer pools (<c>burstOnly</c>) are accounted like any other but never chosen by
/// <see cref="Place"/>: a machine goes there only by bursting (<see cref="PeerPlacement"/>), which
/// reserves the capacity it chose (<see cref="Reserve"/>).
/// Thread-safe; decisions are serialised by one lock.
/// </summary>
public sealed class Placer
{
    private readonly object _lock = new();
    private readonly string[] _names;
    private readonly int[] _region;
    private readonly int[] _jurisdiction;
    private readonly long[] _freeCpuMilli;
    private readonly long[] _freeMemoryMiB;
    private readonly long[] _freeDiskGiB;
    private readonly bool[] _down;
    private readonly bool[] _burstOnly;
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _regionIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _jurisdictionIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<int, int>> _groups = new(StringComparer.Ordinal);

    public Placer(IReadOnlyList<FabricHost> hosts, PlacementOptions options, IEnumerable<string>? burstOnly = null)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        ArgumentNullException.ThrowIfNull(options);
        if (options.CpuOvercommit < 1 || options.MemoryOvercommit < 1 || options.DiskOvercommit < 1)
        {
            throw new ArgumentException("Overcommit ratios must be at least 1.", nameof(options));
        }
        var n = hosts.Count;
        _names = new string[n];
        _region = new int[n];
        _jurisdiction = new int[n];
        _freeCpuMilli = new long[n];
        _freeMemoryMiB = new long[n];
        _freeDiskGiB = new long[n];
        _down = new bool[n];
        _burstOnly = new bool[n];
        for (var i = 0; i < n; i++)
        {
            var h = hosts[i];
            if (!_index.TryAdd(h.Name, i))
            {
                throw new ArgumentException($"Host '{h.Name}' appears twice.", nameof(hosts));
            }
            _names[i] = h.Name;
            _region[i] = Intern(_regionIds, h.Region);
            _jurisdiction[i] = Intern(_jurisdictionIds, h.Jurisdiction);
            _freeCpuMilli[i] = (long)(h.Cores * 1000 * options.CpuOvercommit);
            _freeMemoryMiB[i] = (long)(h.MemoryMiB * options.MemoryOvercommit);
            _freeDiskGiB[i] = (long)(h.DiskGiB * options.DiskOvercommit);
        }
        foreach (var host in burstOnly ?? [])
        {
            if (_index.TryGetValue(host, out var i))
            {
                _burstOnly[i] = true;
            }
        }
    }

    public Result<Placement> Place(PlacementRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Vcpus <= 0 || request.MemoryMiB <= 0 || request.DiskGiB < 0)
        {
            return Error.Validation("request", "a machine needs at least one vCPU and some memory");
        }
        var cpu = request.Vcpus * 1000L;
        // Constraint names no host carries simply match nothing.
        var regions = Resolve(_regionIds, request.Regions);
        var jurisdictions = Resolve(_jurisdictionIds, request.Jurisdictions);
        lock (_lock)
        {
            Dictionary<int, int>? group = null;
            if (request.AntiAffinityGroup is { } g)
            {
                _groups.TryGetValue(g, out group);
            }
            var best = -1;
            var bestMemory = long.MinValue;
            for (var i = 0; i < _names.Length; i++)
            {
                if (_down[i] || _burstOnly[i] || _freeCpuMilli[i] < cpu || _freeMemoryMiB[i] < request.MemoryMiB || _freeDiskGiB[i] < request.DiskGiB
                    || (regions is not null && !regions.Contains(_region[i]))
                    || (jurisdictions is not null && !jurisdictions.Contains(_jurisdiction[i]))
                    || (group is not null && group.ContainsKey(i))
                    || (request.Hosts is not null && !request.Hosts.Contains(_names[i])))
                {
                    continue;
                }
                var memoryLeft = _freeMemoryMiB[i] - request.MemoryMiB;
                if (memoryLeft > bestMemory)
                {
                    best = i;
                    bestMemory = memoryLeft;
                }
            }
            if (best < 0)
            {
                return new Error("insufficient-capacity", ErrorKind.Conflict, Explain(request));
            }
            _freeCpuMilli[best] -= cpu;
            _freeMemoryMiB[best] -= request.MemoryMiB;
            _freeDiskGiB[best] -= request.DiskGiB;
            if (request.AntiAffinityGroup is { } name)
            {
                if (group is null)
                {
                    group = [];
                    _groups[name] = group;
                }
                group[best] = group.GetValueOrDefault(best) + 1;
            }
            return new Placement(_names[best], request.Vcpus, request.MemoryMiB, request.DiskGiB, request.AntiAffinityGroup);
        }
    }

    /// <summary>
    /// Takes the capacity of a placement made earlier (rebuilding the ledger from the machines
    /// a database knows, after a restart). Unconditional: what exists is accounted even when an
    /// operator has since lowered the overcommit, so a host may show negative free capacity.
    /// </summary>
    public void Reserve(Placement placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        lock (_lock)
        {
            if (!_index.TryGetValue(placement.Host, out var i))
            {
                throw new ArgumentException($"Host '{placement.Host}' is not in the fabric.", nameof(placement));
            }
            _freeCpuMilli[i] -= placement.Vcpus * 1000L;
            _freeMemoryMiB[i] -= placement.MemoryMiB;
            _freeDiskGiB[i] -= placement.DiskGiB;
            if (placement.AntiAffinityGroup is { } name)
            {
                if (!_groups.TryGetValue(name, out var group))
                {
                    group = [];
                    _groups[name] = group;
                }
                group[i] = group.GetValueOrDefault(i) + 1;
            }
        }
    }

    /// <summary>
    /// Changes the vCPUs and memory of a placement on the host it has (a machine cannot move by
    /// being resized): succeeds when the growth fits that host, else insufficient-capacity and nothing changes.
    /// </summary>
    public Result<Placement> Resize(Placement current, int vcpus, long memoryMiB)
    {
        ArgumentNullException.ThrowIfNull(current);
        if (vcpus <= 0 || memoryMiB <= 0)
        {
            return Error.Validation("request", "a machine needs at least one vCPU and some memory");
        }
        var cpuDelta = (vcpus - current.Vcpus) * 1000L;
        var memoryDelta = memoryMiB - current.MemoryMiB;
        lock (_lock)
        {
            var i = _index[current.Host];
            if ((cpuDelta > 0 && _freeCpuMilli[i] < cpuDelta) || (memoryDelta > 0 && _freeMemoryMiB[i] < memoryDelta))
            {
                return new Error("insufficient-capacity", ErrorKind.Conflict,
                    $"Host '{current.Host}' has no room to grow a machine to {vcpus} vCPU and {memoryMiB} MiB memory.");
            }
            _freeCpuMilli[i] -= cpuDelta;
            _freeMemoryMiB[i] -= memoryDelta;
            return current with { Vcpus = vcpus, MemoryMiB = memoryMiB };
        }
    }

    /// <summary>
    /// Moves a placement to another host (a machine migrating): takes its capacity there and gives
    /// it back on the host it leaves, in one step. Fails with insufficient-capacity when the target
    /// has no room or is down, and unknown-host when the fabric has no such host; nothing changes then.
    /// </summary>
    public Result<Placement> Move(Placement current, string targetHost)
    {
        ArgumentNullException.ThrowIfNull(current);
        lock (_lock)
        {
            if (!_index.TryGetValue(targetHost, out var t))
            {
                return new Error("unknown-host", ErrorKind.NotFound, $"The fabric has no host '{targetHost}'.");
            }
            if (_down[t] || _freeCpuMilli[t] < current.Vcpus * 1000L || _freeMemoryMiB[t] < current.MemoryMiB || _freeDiskGiB[t] < current.DiskGiB)
            {
                return new Error("insufficient-capacity", ErrorKind.Conflict,
                    $"Host '{targetHost}' has no room for a machine of {current.Vcpus} vCPU, {current.MemoryMiB} MiB memory and {current.DiskGiB} GiB disk{(_down[t] ? " (it is down)" : "")}.");
            }
            var moved = current with { Host = targetHost };
            Reserve(moved);
            Release(current);
            return moved;
        }
    }

    /// <summary>Gives a placement's capacity back (machine destroyed, or its provisioning failed).</summary>
    public void Release(Placement placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        lock (_lock)
        {
            var i = _index[placement.Host];
            _freeCpuMilli[i] += placement.Vcpus * 1000L;
            _freeMemoryMiB[i] += placement.MemoryMiB;
            _freeDiskGiB[i] += placement.DiskGiB;
            if (placement.AntiAffinityGroup is { } g && _groups.TryGetValue(g, out var group) && group.TryGetValue(i, out var count))
            {
                if (count <= 1)
                {
                    group.Remove(i);
                    if (group.Count == 0)
                    {
                        _groups.Remove(g);
                    }
                }
                else
                {
                    group[i] = count - 1;
                }
            }
        }
    }

    /// <summary>Takes a host out of (or back into) placement, for failures and maintenance.</summary>
    public void SetDown(string host, bool down)
    {
        lock (_lock)
        {
            _down[_index[host]] = down;
        }
    }

    public bool IsDown(string host)
    {
        lock (_lock)
        {
            return _down[_index[host]];
        }
    }

    public bool Contains(string host) => _index.ContainsKey(host);

    /// <summary>Capacity still free on a host: (milli-vCPUs, MiB, GiB), after overcommit.</summary>
    public (long CpuMilli, long MemoryMiB, long DiskGiB) Free(string host)
    {
        lock (_lock)
        {
            var i = _index[host];
            return (_freeCpuMilli[i], _freeMemoryMiB[i], _freeDiskGiB[i]);
        }
    }

    private static int Intern(Dictionary<string, int> ids, string name)
    {
        if (!ids.TryGetValue(name, out var id))
        {
            id = ids.Count;
            ids[name] = id;
        }
        return id;
    }

    private static HashSet<int>? Resolve(Dictionary<string, int> ids, IReadOnlyCollection<string>? names) =>
        names is null ? null : names.Where(ids.ContainsKey).Select(n => ids[n]).ToHashSet();

    private static string Explain(PlacementRequest r)
    {
        var where = new List<string>();
        if (r.Jurisdictions is not null)
        {
            where.Add("jurisdictions " + string.Join(", ", r.Jurisdictions));
        }
        if (r.Regions is not null)
        {
            where.Add("regions " + string.Join(", ", r.Regions));
        }
        var scope = where.Count == 0 ? "any host" : "a host in " + string.Join(" and ", where);
        var apart = r.AntiAffinityGroup is null ? "" : $" apart from the other machines of group '{r.AntiAffinityGroup}'";
        return $"No capacity for {r.Vcpus} vCPU, {r.MemoryMiB} MiB memory and {r.DiskGiB} GiB disk on {scope}{apart}.";
    }
}
