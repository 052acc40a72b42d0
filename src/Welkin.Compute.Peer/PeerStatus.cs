using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// What a peer pool can take now. The entitlement is what the agreement's contracts on the peer still allow
/// (each compute line's machines not yet provisioned, at the largest size its offering admits), capped by what
/// the pool declares and by the free capacity the peer's presence announces in the agreement's jurisdictions.
/// The price is the lowest per-vCPU-hour rate of the lines.
/// </summary>
internal static class PeerStatus
{
    public const string CpuHour = "cpu-hour";

    public static async Task<PeerPoolStatus> ComputeAsync(WelkinClient client, PeerLink link, PeerPoolOptions options, CancellationToken ct)
    {
        long vcpus = 0, memory = 0, disk = 0;
        decimal? price = null;
        string? currency = null;
        var active = 0;
        foreach (var contractId in link.ContractIds)
        {
            var contract = await client.Contracts.GetAsync(contractId, ct);
            if (contract.State != ContractState.Active)
            {
                continue;
            }
            active++;
            foreach (var item in contract.Items.Where(i => i.Kind == OfferingKind.Compute))
            {
                var used = contract.Usage.FirstOrDefault(u => u.Item == item.Item)?.Provisioned ?? 0;
                var left = Math.Max(0, item.Quantity - used);
                var largest = (item.Choices ?? []).Count == 0 ? null : item.Choices!.MaxBy(c => c.Vcpus?.Allowed.Max() ?? options.Cores);
                vcpus += left * (largest?.Vcpus?.Allowed.Max() ?? options.Cores);
                memory += left * (largest?.MemoryMiB?.Allowed.Max() ?? options.MemoryMiB);
                disk += left * (largest?.DiskGiB?.Allowed.Max() ?? options.DiskGiB);
                if (item.PricePlan.Rates.FirstOrDefault(r => r.Metric == CpuHour) is { } rate && (price is null || rate.Price < price))
                {
                    (price, currency) = (rate.Price, item.PricePlan.Currency);
                }
            }
        }
        if (active == 0)
        {
            return PeerPoolStatus.Unavailable($"The agreement with '{link.Peer}' has no active contract on the peer.");
        }
        (vcpus, memory, disk) = (Math.Min(vcpus, options.Cores), Math.Min(memory, options.MemoryMiB), Math.Min(disk, options.DiskGiB));
        var jurisdictions = link.Terms.Policy.Jurisdictions;
        if (link.Capacity is { } announced)
        {
            var regions = announced.Regions.Where(r => jurisdictions.Count == 0 || jurisdictions.Contains(r.Jurisdiction)).ToList();
            (vcpus, memory, disk) = (Math.Min(vcpus, regions.Sum(r => r.FreeVcpus)), Math.Min(memory, regions.Sum(r => r.FreeMemoryMiB)),
                Math.Min(disk, regions.Sum(r => r.FreeStorageGiB)));
        }
        return new PeerPoolStatus(true, null, (int)vcpus, memory, disk, jurisdictions, price, currency ?? link.Terms.Metering.Currency, link.AgreementId);
    }
}
