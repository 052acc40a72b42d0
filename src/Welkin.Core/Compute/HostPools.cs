using Welkin.Core.Common;

namespace Welkin.Core.Compute;

/// <summary>
/// A named set of hosts served by one <see cref="IComputeDriver"/>: a rack of QEMU hosts, a
/// simulated site, or (through a peer-cloud driver) another cloud. A pool may carry labels; its
/// <see cref="LabelRegion"/> and <see cref="LabelJurisdiction"/> labels place every host of the
/// pool there (placement and offering constraints match them), overriding what the driver says of
/// its hosts. Other labels are descriptive.
/// </summary>
public sealed class HostPool
{
    public const string LabelRegion = "region";
    public const string LabelJurisdiction = "jurisdiction";
    public const int MaxLabels = 20;

    public HostPool(string name, IComputeDriver driver, IReadOnlyDictionary<string, string>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        if (!Names.IsValid(name))
        {
            throw new ArgumentException($"Pool name '{name}' {Names.Rule}.", nameof(name));
        }
        var kept = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            if (!Names.IsValid(key) || string.IsNullOrWhiteSpace(value) || value.Length > Names.MaxLength)
            {
                throw new ArgumentException($"Pool '{name}': label '{key}' must be a name that {Names.Rule}, with a value of 1-{Names.MaxLength} characters.", nameof(labels));
            }
            kept[key] = value;
        }
        if (kept.Count > MaxLabels)
        {
            throw new ArgumentException($"Pool '{name}' has {kept.Count} labels; at most {MaxLabels} are allowed.", nameof(labels));
        }
        Name = name;
        Driver = driver;
        Labels = kept;
        var region = kept.GetValueOrDefault(LabelRegion);
        var jurisdiction = kept.GetValueOrDefault(LabelJurisdiction);
        Hosts = driver.Hosts
            .Select(h => h with { Pool = name, Region = region ?? h.Region, Jurisdiction = jurisdiction ?? h.Jurisdiction })
            .ToList();
    }

    public string Name { get; }

    public IComputeDriver Driver { get; }

    /// <summary>The driver's kind ("simulated", "qemu", …).</summary>
    public string Kind => Driver.Kind;

    public IReadOnlyDictionary<string, string> Labels { get; }

    /// <summary>The driver's hosts as the cloud sees them: with the pool's name and its region and jurisdiction labels.</summary>
    public IReadOnlyList<FabricHost> Hosts { get; }
}

/// <summary>
/// The cloud's compute fabric: its host pools, each served by its own driver. Placement chooses
/// among the hosts of every pool (host names are unique across pools); a machine records the pool
/// it was placed in, and every operation on it goes to that pool's driver. Owns the drivers and
/// disposes them.
/// </summary>
public sealed class ComputeFabric : IAsyncDisposable
{
    private readonly Dictionary<string, HostPool> _pools = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HostPool> _byHost = new(StringComparer.Ordinal);
    private int _disposed;

    public ComputeFabric(IEnumerable<HostPool> pools)
    {
        ArgumentNullException.ThrowIfNull(pools);
        Pools = pools.ToList();
        if (Pools.Count == 0)
        {
            throw new ArgumentException("The fabric needs at least one host pool.", nameof(pools));
        }
        foreach (var pool in Pools)
        {
            if (!_pools.TryAdd(pool.Name, pool))
            {
                throw new ArgumentException($"Pool '{pool.Name}' is declared twice.", nameof(pools));
            }
            foreach (var host in pool.Hosts)
            {
                if (_byHost.TryGetValue(host.Name, out var other))
                {
                    throw new ArgumentException($"Host '{host.Name}' is in pool '{other.Name}' and in pool '{pool.Name}'; host names must be unique across pools.", nameof(pools));
                }
                _byHost[host.Name] = pool;
            }
        }
        Hosts = Pools.SelectMany(p => p.Hosts).ToList();
    }

    public IReadOnlyList<HostPool> Pools { get; }

    /// <summary>Every host of every pool, in pool order.</summary>
    public IReadOnlyList<FabricHost> Hosts { get; }

    public HostPool? Find(string? pool) => pool is not null && _pools.TryGetValue(pool, out var found) ? found : null;

    public HostPool? PoolOfHost(string? host) => host is not null && _byHost.TryGetValue(host, out var pool) ? pool : null;

    /// <summary>The driver of a machine's pool, or <c>pool-unavailable</c> when the fabric no longer has that pool.</summary>
    public Result<IComputeDriver> DriverOf(string? pool) =>
        Find(pool) is { } found ? new Result<IComputeDriver>(found.Driver) : FabricErrors.PoolUnavailable(pool);

    /// <summary>
    /// Removes a deleted volume's storage: from its pool when it was ever placed in one, otherwise
    /// from every pool (each succeeds when it never stored the volume).
    /// </summary>
    public async Task<Result<bool>> DeleteVolumeAsync(string volumeId, string? pool, CancellationToken ct)
    {
        IEnumerable<HostPool> holders = Find(pool) is { } found ? [found] : Pools;
        foreach (var p in holders)
        {
            var done = await p.Driver.DeleteVolumeAsync(volumeId, ct);
            if (!done.IsSuccess)
            {
                return done.Error!;
            }
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        foreach (var driver in Pools.Select(p => p.Driver))
        {
            if (driver is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync();
            }
            else if (driver is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
    }
}

public static class FabricErrors
{
    public static Error PoolUnavailable(string? pool) =>
        new("pool-unavailable", ErrorKind.Conflict, $"Host pool '{pool ?? "(none)"}' is not part of this cloud's fabric.");

    public static Error OtherPool(string machineId, string? machinePool, string host, string hostPool) =>
        Error.Validation("host", $"host '{host}' is in pool '{hostPool}', and machine '{machineId}' runs in pool '{machinePool}': machines move only between hosts of their pool");
}
