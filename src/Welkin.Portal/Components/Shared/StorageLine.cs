using System.Globalization;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Portal.Components.Shared;

/// <summary>A storage line of an active contract, as a choice of the vault and volume forms ("contract:item").</summary>
public sealed record StorageLine(string ContractId, int Item, string Text)
{
    public string Value => ContractId + ":" + Item.ToString(CultureInfo.InvariantCulture);

    public static StorageLine Parse(string value)
    {
        var colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var item)
            ? new StorageLine(value[..colon], item, value)
            : new StorageLine(value, 0, value);
    }

    /// <summary>The storage lines of the caller's active contracts.</summary>
    public static async Task<List<StorageLine>> ListAsync(WelkinClient api, CancellationToken ct)
    {
        var lines = new List<StorageLine>();
        string? after = null;
        do
        {
            var page = await api.Contracts.ListAsync(state: "active", after: after, limit: 200, ct: ct);
            foreach (var contract in page.Items.Where(c => c.State == ContractState.Active))
            {
                foreach (var item in contract.Items.Where(i => i.Kind == OfferingKind.Storage))
                {
                    var increment = item.Storage is { } storage ? $", {storage.IncrementGiB} GiB increments" : "";
                    lines.Add(new StorageLine(contract.Id, item.Item, $"{contract.Name ?? contract.Id} · {item.OfferingName} ({item.Quantity} units{increment})"));
                }
            }
            after = page.Next;
        }
        while (after is not null && lines.Count < 500);
        return lines;
    }
}

/// <summary>How the vault pages write retention.</summary>
public static class VaultText
{
    public static string Retention(DefaultRetentionView? retention) => retention switch
    {
        null => "—",
        { Mode: null } => "none",
        { Mode: { } mode, Days: { } days } => $"{Format.Kind(mode)}, {days} days",
        { Mode: { } mode, Years: { } years } => $"{Format.Kind(mode)}, {years} years",
        { Mode: { } mode } => Format.Kind(mode),
    };
}
