using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>What a measurements request asks for; null members take the server's defaults (CPU utilisation, the last hour, auto, mean).</summary>
/// <param name="Metric">One of cpu-utilization-percent, memory-used-bytes, page-faults-per-second, disk-read-bytes-per-second, disk-write-bytes-per-second, network-rx-bytes-per-second, network-tx-bytes-per-second.</param>
/// <param name="From">Start of the range (inclusive).</param>
/// <param name="To">End of the range (exclusive).</param>
/// <param name="Resolution">raw, 1m, 1h or auto.</param>
/// <param name="Aggregation">mean, max, min, p50, p95 or p99.</param>
public sealed record MeasurementQuery(string? Metric = null, DateTimeOffset? From = null, DateTimeOffset? To = null, string? Resolution = null, string? Aggregation = null);

/// <summary>The Service Monitor: measured series of machines, instances and contracts.</summary>
public sealed class MonitoringClient
{
    private readonly ApiConnection _api;

    internal MonitoringClient(ApiConnection api) => _api = api;

    /// <summary>A series of one machine.</summary>
    public Task<MeasurementSeriesView> MachineAsync(string id, MeasurementQuery? query = null, CancellationToken ct = default) => GetAsync("machines", id, query, ct);

    /// <summary>A series over every machine an instance has had.</summary>
    public Task<MeasurementSeriesView> InstanceAsync(string id, MeasurementQuery? query = null, CancellationToken ct = default) => GetAsync("instances", id, query, ct);

    /// <summary>A series over every machine a contract has had.</summary>
    public Task<MeasurementSeriesView> ContractAsync(string id, MeasurementQuery? query = null, CancellationToken ct = default) => GetAsync("contracts", id, query, ct);

    private Task<MeasurementSeriesView> GetAsync(string collection, string id, MeasurementQuery? query, CancellationToken ct)
    {
        query ??= new MeasurementQuery();
        return _api.GetAsync<MeasurementSeriesView>(_api.Resolve($"api/v1/{collection}/{ApiConnection.Segment(id)}/measurements",
            ("metric", query.Metric), ("from", query.From?.ToString("O", System.Globalization.CultureInfo.InvariantCulture)),
            ("to", query.To?.ToString("O", System.Globalization.CultureInfo.InvariantCulture)), ("resolution", query.Resolution), ("aggregation", query.Aggregation)), ct);
    }
}
