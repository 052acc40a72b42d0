using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// The fabric's hosts: which exist, which failed (a marker file under the fabric's root, so a
/// failure outlives a restart of Welkin), and whether one can hold another machine (a guard
/// behind placement: vCPUs and memory times their overcommit). Guarded by the fabric's lock.
/// </summary>
internal sealed class QemuHosts
{
    private readonly Dictionary<string, FabricHost> _hosts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);
    private readonly string _root;
    private readonly QemuFabricOptions _options;

    public QemuHosts(IReadOnlyList<FabricHost> hosts, string root, QemuFabricOptions options)
    {
        _root = root;
        _options = options;
        All = hosts;
        foreach (var host in hosts)
        {
            if (!_hosts.TryAdd(host.Name, host))
            {
                throw new ArgumentException($"Host '{host.Name}' appears twice.", nameof(options));
            }
            if (File.Exists(FailedMarker(host.Name)))
            {
                _failed.Add(host.Name);
            }
        }
    }

    public IReadOnlyList<FabricHost> All { get; }

    public FabricHost? Find(string host) => _hosts.GetValueOrDefault(host);

    public bool IsFailed(string host) => _failed.Contains(host);

    /// <summary>Marks the host failed or back (writing or removing its marker); false when it already was.</summary>
    public bool SetFailed(string host, bool failed, DateTimeOffset now)
    {
        if (_failed.Contains(host) == failed)
        {
            return false;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(FailedMarker(host))!);
        if (failed)
        {
            _failed.Add(host);
            File.WriteAllText(FailedMarker(host), now.ToString("O"));
        }
        else
        {
            _failed.Remove(host);
            File.Delete(FailedMarker(host));
        }
        return true;
    }

    /// <summary>Why <paramref name="host"/> cannot hold another <paramref name="vcpus"/> and <paramref name="memoryMiB"/> besides the machines on it (but <paramref name="except"/>), or null.</summary>
    public Error? CapacityError(FabricHost host, int vcpus, long memoryMiB, IEnumerable<QemuMachine> machines, QemuMachine? except)
    {
        var on = machines.Where(m => m.Record.Host == host.Name && m != except).ToList();
        var usedCpus = on.Sum(m => m.Record.Vcpus);
        var usedMemory = on.Sum(m => m.Record.MemoryMiB);
        if (usedCpus + vcpus > host.Cores * _options.CpuOvercommit)
        {
            return DriverErrors.HostUnavailable(host.Name) with
            {
                Detail = $"Host '{host.Name}' cannot hold another {vcpus} vCPUs: {usedCpus} of its {host.Cores * _options.CpuOvercommit} are taken.",
            };
        }
        if (usedMemory + memoryMiB > host.MemoryMiB * _options.MemoryOvercommit)
        {
            return DriverErrors.HostUnavailable(host.Name) with
            {
                Detail = $"Host '{host.Name}' cannot hold another {memoryMiB} MiB: {usedMemory} MiB of its {host.MemoryMiB * _options.MemoryOvercommit} MiB are taken.",
            };
        }
        return null;
    }

    private string FailedMarker(string host) => Path.Combine(_root, "hosts", host + ".failed");
}
