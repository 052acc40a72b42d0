using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Instances;
using Welkin.Core.Security;

namespace Welkin.Core.Monitoring;

/// <summary>The query parameters of a measurements request, as the caller sent them.</summary>
public sealed record MeasurementArgs(string? Metric = null, DateTimeOffset? From = null, DateTimeOffset? To = null, string? Resolution = null, string? Aggregation = null);

/// <summary>
/// The Service Monitor's interface: measured series of a machine, an instance or a contract
/// (resources-read, the caller's own account), and the simulated load of machines and instances
/// (fabric-write).
/// </summary>
public sealed class ServiceMonitor(IDatabase db, MeasurementStore store, ComputeFabric fabric, AuditLog audit, TimeProvider clock)
{
    /// <summary>More points than a series may have; a longer range needs a coarser resolution.</summary>
    public const int MaxPoints = 10_000;

    /// <summary>What the automatic resolution aims for: about a chart's width.</summary>
    public const int AutoPoints = 1_500;

    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(800);

    public static IReadOnlyList<string> Aggregations { get; } = ["mean", "max", "min", "p50", "p95", "p99"];

    public static IReadOnlyList<string> Resolutions { get; } = ["raw", "1m", "1h", "auto"];

    public Task<Result<MeasurementSeriesView>> MachineAsync(Caller caller, string id, MeasurementArgs args, CancellationToken ct) =>
        SeriesAsync(caller, id, Ids.Machine, "machine", MachineStore.AccountOfMachineAsync, (_, _, _) => Task.FromResult<IReadOnlyList<string>>([id]), args, ct);

    public Task<Result<MeasurementSeriesView>> InstanceAsync(Caller caller, string id, MeasurementArgs args, CancellationToken ct) =>
        SeriesAsync(caller, id, Ids.Instance, "instance", MachineStore.AccountOfInstanceAsync, MachineStore.IdsOfInstanceAsync, args, ct);

    public Task<Result<MeasurementSeriesView>> ContractAsync(Caller caller, string id, MeasurementArgs args, CancellationToken ct) =>
        SeriesAsync(caller, id, Ids.Contract, "contract", async (d, i, t) => (await ContractStore.GetAsync(d, i, t))?.AccountId,
            MachineStore.IdsOfContractAsync, args, ct);

    /// <summary>The series of the machines <paramref name="machinesOf"/> gives, when <paramref name="ownerOf"/> names an account the caller sees.</summary>
    private async Task<Result<MeasurementSeriesView>> SeriesAsync(
        Caller caller, string id, string prefix, string kind, Func<IDatabase, string, CancellationToken, Task<string?>> ownerOf,
        Func<IDatabase, string, CancellationToken, Task<IReadOnlyList<string>>> machinesOf, MeasurementArgs args, CancellationToken ct)
    {
        if (!Ids.IsValid(id, prefix))
        {
            return Error.InvalidId(id, kind);
        }
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading measurements") is { } denied)
        {
            return denied;
        }
        var query = Parse(args);
        if (!query.IsSuccess)
        {
            return query.Error!;
        }
        var q = query.Value;
        var owner = await ownerOf(db, id, ct);
        if (owner is null || !Tenancy.Sees(caller, owner))
        {
            return Error.NotFound(char.ToUpperInvariant(kind[0]) + kind[1..], id);
        }
        var machines = await machinesOf(db, id, ct);
        var series = await store.SeriesAsync(machines, q.Metric, q.From, q.To, q.Tier, q.Aggregation, q.Percentile, points: true, ct);
        return new MeasurementSeriesView(id, kind, MetricNames.All[q.Metric], MeasurementColumns.Unit(q.Metric), q.From, q.To, NameOf(q.Tier), q.AggregationName,
            series.Value, series.Samples, series.Exact, machines,
            series.Points.Select(p => new MeasurementPointView(DbTime.FromDb(p.T), p.Value, p.Samples)).ToList());
    }

    private sealed record Query(int Metric, DateTimeOffset From, DateTimeOffset To, MeasurementTier Tier, Aggregation Aggregation, double? Percentile, string AggregationName);

    private Result<Query> Parse(MeasurementArgs args)
    {
        var errors = new Dictionary<string, string[]>();
        var metric = MeasurementColumns.IndexOf(args.Metric ?? MetricNames.CpuUtilization);
        if (metric < 0)
        {
            errors["metric"] = ["metric must be one of " + string.Join(", ", MetricNames.All) + "."];
        }
        var aggregationName = args.Aggregation ?? "mean";
        (Aggregation, double?)? aggregation = aggregationName switch
        {
            "mean" => (Aggregation.Mean, null),
            "max" => (Aggregation.Max, null),
            "min" => (Aggregation.Min, null),
            "p50" or "p95" or "p99" => (Aggregation.Percentile, double.Parse(aggregationName[1..], CultureInfo.InvariantCulture)),
            _ => null,
        };
        if (aggregation is null)
        {
            errors["aggregation"] = ["aggregation must be one of " + string.Join(", ", Aggregations) + "."];
        }
        var now = clock.GetUtcNow();
        var to = args.To ?? now;
        var from = args.From ?? to - TimeSpan.FromHours(1);
        if (from >= to)
        {
            errors["from"] = ["from must be before to."];
        }
        else if (to - from > MaxRange)
        {
            errors["from"] = [$"The range is at most {MaxRange.TotalDays:0} days."];
        }
        var resolution = args.Resolution ?? "auto";
        if (!Resolutions.Contains(resolution))
        {
            errors["resolution"] = ["resolution must be one of " + string.Join(", ", Resolutions) + "."];
        }
        if (errors.Count > 0)
        {
            return Error.Validation(errors);
        }
        var range = to - from;
        var tier = resolution switch
        {
            "raw" => MeasurementTier.Raw,
            "1m" => MeasurementTier.Minute,
            "1h" => MeasurementTier.Hour,
            // The finest tier that still holds the range and gives about a chart's worth of points.
            _ => new[] { MeasurementTier.Raw, MeasurementTier.Minute }
                .Where(t => store.Covers(t, from) && range / Width(t) <= AutoPoints)
                .Select(t => (MeasurementTier?)t).FirstOrDefault() ?? MeasurementTier.Hour,
        };
        if (range / Width(tier) > MaxPoints)
        {
            return Error.Validation("resolution",
                $"At resolution {NameOf(tier)} the range would have more than {MaxPoints} points; choose a coarser resolution or a shorter range.");
        }
        return new Query(metric, from, to, tier, aggregation!.Value.Item1, aggregation.Value.Item2, aggregationName);
    }

    private TimeSpan Width(MeasurementTier tier) =>
        tier == MeasurementTier.Raw ? store.Options.Interval : TimeSpan.FromMilliseconds(MeasurementStore.BucketMs(tier));

    public static string NameOf(MeasurementTier tier) => tier switch
    {
        MeasurementTier.Raw => "raw",
        MeasurementTier.Minute => "1m",
        _ => "1h",
    };

    // ---- Simulated load -----------------------------------------------------------------------

    public Task<Result<LoadView>> SetMachineLoadAsync(Caller caller, string id, LoadRequest request, CancellationToken ct) =>
        SetLoadAsync(caller, id, Ids.Machine, "machine",
            async (d, i, t) => await MachineStore.GetMachineAsync(d, i, t) is { } m ? new OwnerRow(m.AccountId, m.State, m.Pool) : null, request, ct);

    public Task<Result<LoadView>> SetInstanceLoadAsync(Caller caller, string id, LoadRequest request, CancellationToken ct) =>
        SetLoadAsync(caller, id, Ids.Instance, "instance",
            async (d, i, t) => await MachineStore.GetInstanceAsync(d, i, t) is { } r ? new OwnerRow(r.AccountId, r.State, null) : null, request, ct);

    private async Task<Result<LoadView>> SetLoadAsync(
        Caller caller, string id, string prefix, string kind, Func<IDatabase, string, CancellationToken, Task<OwnerRow?>> find, LoadRequest request, CancellationToken ct)
    {
        if (Tenancy.RequireProvider(caller, Permission.FabricWrite, "Setting a simulated load") is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, prefix))
        {
            return Error.InvalidId(id, kind);
        }
        var simulations = fabric.Pools.Select(p => p.Driver).OfType<ILoadSimulation>().ToList();
        if (simulations.Count == 0)
        {
            return Unsimulated;
        }
        var load = Validate(request, kind);
        if (!load.IsSuccess)
        {
            return load.Error!;
        }
        var row = await find(db, id, ct);
        if (row is null)
        {
            return Error.NotFound(char.ToUpperInvariant(kind[0]) + kind[1..], id);
        }
        if (row.State == "terminated")
        {
            return Error.InvalidState($"The {kind} '{id}' is terminated.");
        }
        int machines;
        if (kind == "machine")
        {
            // A machine's load is set by the pool it runs in, which must be a simulated one.
            if (fabric.Find(row.Pool)?.Driver is not ILoadSimulation simulation)
            {
                return Unsimulated;
            }
            if (!simulation.SetMachineLoad(id, load.Value))
            {
                return Error.InvalidState($"Machine '{id}' is not on the fabric yet.");
            }
            machines = 1;
        }
        else
        {
            // An instance's demand is spread over its machines in every simulated pool.
            machines = simulations.Sum(s => s.SetInstanceLoad(id, load.Value));
        }
        var l = load.Value;
        await audit.AppendAsync(db, caller, new AuditEvent("fabric.load", id, AuditEvent.Success, row.AccountId, string.Create(CultureInfo.InvariantCulture,
            $"cpu={l.CpuUtilizationPercent}; memory={l.MemoryUsedFraction}; page-faults={l.PageFaultsPerSecond}; disk-read={l.DiskReadBytesPerSecond}; "
            + $"disk-write={l.DiskWriteBytesPerSecond}; rx={l.NetworkRxBytesPerSecond}; tx={l.NetworkTxBytesPerSecond}; machines={machines}")), ct);
        return new LoadView(id, kind, l, machines);
    }

    private static Result<LoadSettings> Validate(LoadRequest r, string kind)
    {
        var d = LoadSettings.Default;
        var load = new LoadSettings(r.CpuUtilizationPercent ?? d.CpuUtilizationPercent, r.MemoryUsedFraction ?? d.MemoryUsedFraction,
            r.PageFaultsPerSecond ?? d.PageFaultsPerSecond, r.DiskReadBytesPerSecond ?? d.DiskReadBytesPerSecond, r.DiskWriteBytesPerSecond ?? d.DiskWriteBytesPerSecond,
            r.NetworkRxBytesPerSecond ?? d.NetworkRxBytesPerSecond, r.NetworkTxBytesPerSecond ?? d.NetworkTxBytesPerSecond);
        var errors = new Dictionary<string, string[]>();
        // An instance's demand is a total over its machines: 250 is two and a half machines fully busy.
        var maxCpu = kind == "machine" ? 100 : 100_000;
        if (!(load.CpuUtilizationPercent is >= 0 && load.CpuUtilizationPercent <= maxCpu))
        {
            errors["cpuUtilizationPercent"] = [$"cpuUtilizationPercent must be between 0 and {maxCpu}."];
        }
        if (!(load.MemoryUsedFraction is >= 0 and <= 1))
        {
            errors["memoryUsedFraction"] = ["memoryUsedFraction must be between 0 and 1."];
        }
        if (!(load.PageFaultsPerSecond is >= 0 and <= 1e9))
        {
            errors["pageFaultsPerSecond"] = ["pageFaultsPerSecond must be between 0 and 1e9."];
        }
        foreach (var (name, value) in new[]
        {
            ("diskReadBytesPerSecond", load.DiskReadBytesPerSecond), ("diskWriteBytesPerSecond", load.DiskWriteBytesPerSecond),
            ("networkRxBytesPerSecond", load.NetworkRxBytesPerSecond), ("networkTxBytesPerSecond", load.NetworkTxBytesPerSecond),
        })
        {
            if (value is < 0 or > 1L << 40)
            {
                errors[name] = [$"{name} must be between 0 and 2^40."];
            }
        }
        return errors.Count > 0 ? Error.Validation(errors) : load;
    }

    private static Error Unsimulated => DriverErrors.Unsupported("setting a guest's load (only the simulated fabric does)");

    private sealed record OwnerRow(string AccountId, string State, string? Pool);
}
