using System.Globalization;
using System.Text.Json;
using Welkin.Core.Events;

namespace Welkin.Core.Metering;

/// <summary>An event as metering reads it from the log.</summary>
internal sealed record UsageEventRow(long Seq, string? AccountId, string Type, string Target, long At, string Data)
{
    private Dictionary<string, string>? _parsed;

    public IReadOnlyDictionary<string, string> Values => _parsed ??= JsonSerializer.Deserialize<Dictionary<string, string>>(Data) ?? [];

    public long Long(string key, long fallback = 0) =>
        Values.TryGetValue(key, out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    public string? Text(string key) => Values.TryGetValue(key, out var s) ? s : null;
}

/// <summary>The event types that open and close usage intervals, and how their data is read.</summary>
internal static class UsageEvents
{
    public const string ContractActivated = EventLog.Types.ContractActivated;
    public const string ContractAmended = EventLog.Types.ContractAmended;
    public const string ContractTerminated = EventLog.Types.ContractTerminated;

    public static readonly IReadOnlyList<string> Types =
    [
        EventLog.Types.MachineProvisioned, EventLog.Types.MachineActivated, EventLog.Types.MachineDeactivated, EventLog.Types.MachineResized,
        EventLog.Types.MachineReleased, EventLog.Types.VolumeProvisioned, EventLog.Types.VolumeReleased,
        EventLog.Types.VaultProvisioned, EventLog.Types.VaultStored, EventLog.Types.VaultReleased,
        ContractActivated, ContractAmended, ContractTerminated,
    ];

    public const string Columns = "seq AS Seq, account_id AS AccountId, type AS Type, target AS Target, at AS At, data AS Data";

    /// <summary>
    /// A contract event's lines and their ordered quantities: <c>quantity.N</c>, or for events
    /// written before that key existed the <c>item.N</c> text "offering xQUANTITY unit".
    /// </summary>
    public static IReadOnlyList<(int Item, long Quantity)> ContractLines(UsageEventRow e)
    {
        var lines = new SortedDictionary<int, long>();
        foreach (var (key, value) in e.Values)
        {
            if (key.StartsWith("quantity.", StringComparison.Ordinal)
                && int.TryParse(key.AsSpan(9), NumberStyles.Integer, CultureInfo.InvariantCulture, out var item)
                && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var quantity))
            {
                lines[item] = quantity;
            }
        }
        if (lines.Count > 0)
        {
            return lines.Select(l => (l.Key, l.Value)).ToList();
        }
        foreach (var (key, value) in e.Values)
        {
            if (!key.StartsWith("item.", StringComparison.Ordinal) || !int.TryParse(key.AsSpan(5), NumberStyles.Integer, CultureInfo.InvariantCulture, out var item))
            {
                continue;
            }
            var parts = value.Split(' ');
            if (parts.Length >= 2 && parts[1].StartsWith('x')
                && long.TryParse(parts[1].AsSpan(1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var quantity))
            {
                lines[item] = quantity;
            }
        }
        return lines.Select(l => (l.Key, l.Value)).ToList();
    }
}
