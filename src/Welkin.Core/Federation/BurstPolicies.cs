using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Federation;

/// <summary>
/// Bursting policies (docs/federation.md, "Bursting"): the rules of a policy, the effective policy of
/// an offering in this cloud, and the owner of <c>burst_policy</c>, the cloud's own policy (one
/// versioned row; absent: bursting off).
/// </summary>
public sealed class BurstPolicies(IDatabase db, AuditLog audit, TimeProvider clock)
{
    public const int MaxPeers = 200;
    public const int MaxPeerNameLength = 200;
    public const decimal MaxPrice = 1_000_000m;
    public const int MaxPriceDecimals = 6;
    public const string UpdateAction = "federation.burst.update";

    public static readonly BurstPolicy Off = new(false);

    /// <param name="at">Prefix of field names ("spec.burst." inside an offering, "" for the cloud's policy).</param>
    public static void Validate(Validator v, BurstPolicy? policy, string at)
    {
        if (policy is null)
        {
            return;
        }
        if (policy.Peers is { } peers)
        {
            v.Require(peers.Count <= MaxPeers && peers.All(p => p is { Length: > 0 and <= MaxPeerNameLength } && !p.Any(char.IsWhiteSpace)),
                at + "peers", $"{at}peers must hold at most {MaxPeers} federation names (1-{MaxPeerNameLength} characters, no spaces)");
        }
        if (policy.MaxPricePerCpuHour is { } price)
        {
            v.Require(price >= 0 && price <= MaxPrice && price.Scale <= MaxPriceDecimals,
                at + "maxPricePerCpuHour", $"{at}maxPricePerCpuHour must be 0-{MaxPrice} with at most {MaxPriceDecimals} decimals");
        }
    }

    /// <summary>
    /// What an offering may do in this cloud: bursting when both allow it, to the peers both name
    /// (null on either side: the other's), under the lower price ceiling.
    /// </summary>
    public static BurstPolicy Effective(BurstPolicy? offering, BurstPolicy cloud)
    {
        if (offering is not { Enabled: true } || !cloud.Enabled)
        {
            return Off;
        }
        IReadOnlyList<string>? peers = (offering.Peers, cloud.Peers) switch
        {
            (null, var c) => c,
            (var o, null) => o,
            (var o, var c) => o.Where(p => c.Contains(p, StringComparer.OrdinalIgnoreCase)).ToList(),
        };
        var ceiling = (offering.MaxPricePerCpuHour, cloud.MaxPricePerCpuHour) switch
        {
            (null, var c) => c,
            (var o, null) => o,
            (var o, var c) => Math.Min(o.Value, c!.Value),
        };
        return new BurstPolicy(true, peers, ceiling);
    }

    public async Task<CloudBurstPolicy> GetAsync(CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<PolicyRow>(Select, null, ct);
        return ToPolicy(row);
    }

    /// <summary>The cloud's policy as the caller's transaction sees it (placement reads it when it needs to burst).</summary>
    public static async Task<CloudBurstPolicy> GetAsync(Tx tx) => ToPolicy(await tx.QuerySingleOrDefaultAsync<PolicyRow>(Select, null));

    /// <summary>Stores a new policy conditional on <paramref name="expectedVersion"/> (0: none set yet), audited.</summary>
    public async Task<Result<CloudBurstPolicy>> SetAsync(Caller caller, CloudBurstPolicy policy, long expectedVersion, CancellationToken ct)
    {
        var v = new Validator();
        v.Require(expectedVersion >= 0, "version", "version must be the version replaced (0 before the first)");
        Validate(v, policy.AsPolicy(), "");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<CloudBurstPolicy>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var json = JsonSerializer.Serialize(policy.AsPolicy(), WelkinJson.Client);
            var n = expectedVersion == 0
                ? await tx.ExecuteAsync(
                    "INSERT INTO burst_policy (id, policy, version, updated_at) VALUES (1, @Policy, 1, @Now) ON CONFLICT (id) DO NOTHING",
                    new { Policy = json, Now = now })
                : await tx.ExecuteAsync(
                    "UPDATE burst_policy SET policy = @Policy, version = @Version, updated_at = @Now WHERE id = 1 AND version = @OldVersion",
                    new { Policy = json, Version = expectedVersion + 1, Now = now, OldVersion = expectedVersion });
            if (n == 0)
            {
                var actual = await tx.ExecuteScalarAsync<long?>("SELECT version FROM burst_policy WHERE id = 1") ?? 0;
                return Error.VersionMismatch("Burst policy", "policy", expectedVersion, actual);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent(UpdateAction, "burst", AuditEvent.Success, null,
                $"version={expectedVersion + 1}; enabled={policy.Enabled}; peers={(policy.Peers is null ? "*" : string.Join(',', policy.Peers))}; " +
                $"maxPricePerCpuHour={policy.MaxPricePerCpuHour?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}"));
            return new CloudBurstPolicy(policy.Enabled, policy.Peers, policy.MaxPricePerCpuHour, expectedVersion + 1, DbTime.FromDb(now));
        }, ct);
    }

    private const string Select = "SELECT policy AS Policy, version AS Version, updated_at AS UpdatedAt FROM burst_policy WHERE id = 1";

    private static CloudBurstPolicy ToPolicy(PolicyRow? row)
    {
        if (row is null)
        {
            return new CloudBurstPolicy(false);
        }
        var p = JsonSerializer.Deserialize<BurstPolicy>(row.Policy, WelkinJson.Client) ?? Off;
        return new CloudBurstPolicy(p.Enabled, p.Peers, p.MaxPricePerCpuHour, row.Version, DbTime.FromDb(row.UpdatedAt));
    }

    private sealed record PolicyRow(string Policy, long Version, long UpdatedAt);
}
