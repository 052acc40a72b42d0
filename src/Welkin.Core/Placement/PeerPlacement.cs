using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Compute;

namespace Welkin.Core.Placement;

/// <summary>A peer pool as bursting sees it: its status now, and what the request being placed already took there.</summary>
/// <param name="Region">The pool's region label, when it has one.</param>
/// <param name="Host">The pool host a machine placed there is recorded on; null when every host of the pool is down.</param>
public sealed record PeerCandidate(
    string Pool, string Peer, PeerPoolStatus Status, string? Region, string? Host, int HeldVcpus = 0, long HeldMemoryMiB = 0, long HeldDiskGiB = 0);

/// <summary>The peer pool chosen, or why none was: one sentence per pool considered.</summary>
public sealed record PeerChoice(PeerCandidate? Chosen, IReadOnlyList<string> Refusals);

/// <summary>
/// Chooses the peer pool a machine bursts to when no local host can take it (docs/federation.md,
/// "Bursting"). A pool is eligible when its status is available, its peer is one the effective
/// policy allows, every jurisdiction its agreement may run machines in is one the machine may run in
/// (the peer chooses its own host, so a pool that could place it elsewhere is never used), its price
/// per vCPU-hour is in the offering's currency and within the ceiling, and its status still has room
/// for the machine beside what the same request already placed there. Eligible pools are ordered by
/// price (an unpriced pool last), then by the most vCPUs left, then by name.
/// </summary>
public static class PeerPlacement
{
    public static PeerChoice Choose(IEnumerable<PeerCandidate> candidates, PlacementRequest request, BurstPolicy policy, string currency)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(policy);
        var refusals = new List<string>();
        PeerCandidate? best = null;
        foreach (var c in candidates)
        {
            if (Refusal(c, request, policy, currency) is { } why)
            {
                refusals.Add($"pool '{c.Pool}' of peer '{c.Peer}': {why}");
            }
            else if (best is null || Better(c, best))
            {
                best = c;
            }
        }
        return new PeerChoice(best, refusals);
    }

    private static bool Better(PeerCandidate a, PeerCandidate b)
    {
        var (pa, pb) = (a.Status.PricePerCpuHour, b.Status.PricePerCpuHour);
        if (pa != pb)
        {
            return pb is null || (pa is not null && pa < pb);
        }
        var (va, vb) = (a.Status.Vcpus - a.HeldVcpus, b.Status.Vcpus - b.HeldVcpus);
        return va != vb ? va > vb : string.CompareOrdinal(a.Pool, b.Pool) < 0;
    }

    private static string? Refusal(PeerCandidate c, PlacementRequest r, BurstPolicy policy, string currency)
    {
        var s = c.Status;
        if (policy.Peers is { } peers && !peers.Contains(c.Peer, StringComparer.OrdinalIgnoreCase))
        {
            return "not a peer the bursting policy allows";
        }
        if (!s.Available)
        {
            return "unavailable (" + (s.Reason ?? "no reason given") + ")";
        }
        if (c.Host is null)
        {
            return "every host of the pool is down";
        }
        if (r.Jurisdictions is { } allowed)
        {
            if (s.Jurisdictions.Count == 0)
            {
                return "its agreement names no jurisdiction, and the machine is constrained to " + string.Join(", ", allowed);
            }
            var outside = s.Jurisdictions.Where(j => !allowed.Contains(j)).ToList();
            if (outside.Count > 0)
            {
                return $"it may run machines in {string.Join(", ", outside)}, outside the allowed jurisdictions {string.Join(", ", allowed)}";
            }
        }
        if (r.Regions is { } regions && (c.Region is null || !regions.Contains(c.Region)))
        {
            return $"its region ({c.Region ?? "none"}) is not one of {string.Join(", ", regions)}";
        }
        if (PriceRefusal(s, policy.MaxPricePerCpuHour, currency) is { } price)
        {
            return price;
        }
        if (s.Vcpus - c.HeldVcpus < r.Vcpus || s.MemoryMiB - c.HeldMemoryMiB < r.MemoryMiB || s.DiskGiB - c.HeldDiskGiB < r.DiskGiB)
        {
            return $"room for {Math.Max(0, s.Vcpus - c.HeldVcpus)} vCPU, {Math.Max(0, s.MemoryMiB - c.HeldMemoryMiB)} MiB memory and "
                + $"{Math.Max(0, s.DiskGiB - c.HeldDiskGiB)} GiB disk, not {r.Vcpus} vCPU, {r.MemoryMiB} MiB and {r.DiskGiB} GiB";
        }
        return null;
    }

    private static string? PriceRefusal(PeerPoolStatus s, decimal? ceiling, string currency)
    {
        if (s.PricePerCpuHour is not { } price)
        {
            return ceiling is { } c ? $"it has no per-vCPU-hour price, and bursting has a ceiling of {Money(c)} {currency}" : null;
        }
        if (!string.Equals(s.Currency, currency, StringComparison.Ordinal))
        {
            return $"it prices in {s.Currency ?? "no currency"}, the offering in {currency}";
        }
        return price > ceiling ? $"its price {Money(price)} {currency} per vCPU-hour is above the ceiling {Money(ceiling.Value)}" : null;
    }

    private static string Money(decimal d) => d.ToString("0.######", CultureInfo.InvariantCulture);
}
