using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;

namespace Welkin.Core.Federation;

/// <summary>
/// What one presence of a peer showed: its trust state and why, and, when it is trusted, what it says
/// of itself. <paramref name="Sequence"/> is the signed sequence number (also of a refused but signed
/// presence), so a replay of it is recognised later.
/// </summary>
public sealed record PeerObservation(
    string Address,
    PeerTrustState Trust,
    string Reason,
    string? Name = null,
    string? Url = null,
    string? Fingerprint = null,
    long? Sequence = null,
    CloudCapacity? Capacity = null);

/// <summary>
/// The owner of <c>federation_peers</c>: the peer clouds this cloud has heard from. A peer is online
/// only while its last presence was available and trusted; an untrusted peer is kept with its state and
/// reason (for the operator), never with capacity anyone could use. Every change is a compare-and-swap
/// on the row's version, and raises its events (federation.peer.online, .offline, .untrusted, .trusted)
/// in the same transaction; a refusal that differs from the one recorded is audited there too.
/// </summary>
public sealed class PeerStore(IDatabase db, EventLog events, AuditLog audit, TimeProvider clock)
{
    public static class Types
    {
        public const string PeerOnline = "federation.peer.online";
        public const string PeerOffline = "federation.peer.offline";
        public const string PeerUntrusted = "federation.peer.untrusted";
        public const string PeerTrusted = "federation.peer.trusted";
    }

    /// <summary>The audit action of a refused presence.</summary>
    public const string RefusedAction = "federation.peer.refuse";

    /// <summary>The audit actions of the provider admin's distrust of a peer, and of its undoing.</summary>
    public const string DistrustAction = "federation.peer.distrust";
    public const string TrustAction = "federation.peer.trust";

    private const string Columns =
        "address AS Address, name AS Name, url AS Url, online AS Online, last_seen AS LastSeen, capacity AS Capacity, trust_state AS TrustState, " +
        "trust_reason AS TrustReason, fingerprint AS Fingerprint, last_sequence AS LastSequence, version AS Version, updated_at AS UpdatedAt, distrusted AS Distrusted";

    private const int Attempts = 5;

    /// <summary>Records a presence that was checked (accepted or refused); returns the peer as it now stands.</summary>
    public async Task<PeerView> RecordAsync(PeerObservation seen, CancellationToken ct)
    {
        var result = await db.WriteAsync<PeerView>(tx => ChangeAsync(tx, seen.Address, row =>
        {
            if (row.Distrusted is { } why && seen.Trust == PeerTrustState.Trusted)
            {
                // The provider admin's word stands over any presence until they trust the peer again.
                return row with { Online = 0, LastSeen = Now(), Capacity = null, TrustState = WireNames.Of(PeerTrustState.Untrusted), TrustReason = Distrusted(why) };
            }
            var trusted = seen.Trust == PeerTrustState.Trusted;
            return row with
            {
                Name = trusted ? seen.Name : row.Name,
                Url = trusted ? seen.Url : row.Url,
                Online = trusted ? 1 : 0,
                LastSeen = Now(),
                Capacity = trusted && seen.Capacity is not null ? JsonSerializer.Serialize(seen.Capacity, WelkinJson.Client) : null,
                TrustState = WireNames.Of(seen.Trust),
                TrustReason = seen.Reason,
                Fingerprint = seen.Fingerprint ?? row.Fingerprint,
                LastSequence = Math.Max(row.LastSequence, seen.Sequence ?? 0),
            };
        }), ct);
        return result.Value!;
    }

    /// <summary>Marks a peer offline (its unavailable presence, a failed ping); false when it was not online.</summary>
    public async Task<bool> SetOfflineAsync(string address, string reason, CancellationToken ct)
    {
        var result = await db.WriteAsync<bool>(async tx =>
        {
            var row = await GetAsync(tx, address);
            if (row is null || row.Online == 0)
            {
                return false;
            }
            var changed = await ChangeAsync(tx, address, r => r with { Online = 0 }, reason);
            return changed.IsSuccess ? true : changed.Error!;
        }, ct);
        return result.IsSuccess && result.Value;
    }

    /// <summary>
    /// The provider admin stops trusting a peer (by federation name or address): it is kept untrusted,
    /// whatever its presences say, until <see cref="TrustAsync"/>. Returns the peer as it now stands.
    /// </summary>
    public async Task<Result<PeerView>> DistrustAsync(Caller caller, string nameOrAddress, string reason, CancellationToken ct)
    {
        var found = await FindAsync(nameOrAddress, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        return await db.WriteAsync<PeerView>(async tx =>
        {
            var changed = await ChangeAsync(tx, found.Value.Address, row => row with
            {
                Online = 0, Capacity = null, TrustState = WireNames.Of(PeerTrustState.Untrusted), TrustReason = Distrusted(reason), Distrusted = reason,
            }, "distrusted by the provider admin");
            if (changed.IsSuccess)
            {
                await audit.AppendAsync(tx, caller, new AuditEvent(DistrustAction, found.Value.Address, AuditEvent.Success, null, reason));
            }
            return changed;
        }, ct);
    }

    /// <summary>Undoes <see cref="DistrustAsync"/>: the peer's next presence is judged on its certificate again.</summary>
    public async Task<Result<PeerView>> TrustAsync(Caller caller, string nameOrAddress, CancellationToken ct)
    {
        var found = await FindAsync(nameOrAddress, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        return await db.WriteAsync<PeerView>(async tx =>
        {
            var changed = await ChangeAsync(tx, found.Value.Address, row => row with
            {
                TrustState = row.Distrusted is null ? row.TrustState : WireNames.Of(PeerTrustState.Unverified),
                TrustReason = row.Distrusted is null ? row.TrustReason : "trusted again by the provider admin; waiting for its next presence",
                Distrusted = null,
            }, "trusted again by the provider admin");
            if (changed.IsSuccess)
            {
                await audit.AppendAsync(tx, caller, new AuditEvent(TrustAction, found.Value.Address, AuditEvent.Success, null, null));
            }
            return changed;
        }, ct);
    }

    private static string Distrusted(string why) => "distrusted by the provider admin: " + why;

    /// <summary>The last signed sequence number seen from <paramref name="address"/> (0 for a peer not seen yet).</summary>
    public async Task<long> LastSequenceAsync(string address, CancellationToken ct) =>
        await db.ExecuteScalarAsync<long?>("SELECT last_sequence FROM federation_peers WHERE address = @Address", new { Address = address }, ct) ?? 0;

    public async Task<IReadOnlyList<PeerView>> ListAsync(CancellationToken ct) =>
        (await db.QueryAsync<PeerRow>($"SELECT {Columns} FROM federation_peers ORDER BY address", null, ct)).Select(ToView).ToList();

    /// <summary>A peer by its federation name or its bare XMPP address.</summary>
    public async Task<Result<PeerView>> FindAsync(string nameOrAddress, CancellationToken ct)
    {
        var rows = await db.QueryAsync<PeerRow>(
            $"SELECT {Columns} FROM federation_peers WHERE address = @Address OR name = @Name ORDER BY address",
            new { Address = nameOrAddress.ToLowerInvariant(), Name = nameOrAddress }, ct);
        // An address names one peer; a name could be claimed by two (one of them refused), so the trusted one wins.
        var row = rows.FirstOrDefault(r => string.Equals(r.Address, nameOrAddress, StringComparison.OrdinalIgnoreCase))
            ?? rows.FirstOrDefault(r => r.TrustState == WireNames.Of(PeerTrustState.Trusted)) ?? (rows.Count > 0 ? rows[0] : null);
        return row is null ? Error.NotFound("Peer", nameOrAddress) : ToView(row);
    }

    private long Now() => clock.GetUtcNow().ToUnixTimeMilliseconds();

    private static Task<PeerRow?> GetAsync(Tx tx, string address) =>
        tx.QuerySingleOrDefaultAsync<PeerRow>($"SELECT {Columns} FROM federation_peers WHERE address = @Address", new { Address = address });

    /// <summary>Applies <paramref name="change"/> to the peer's row (a new one if it has none) conditional on its version, retrying when another writer came first.</summary>
    private async Task<Result<PeerView>> ChangeAsync(Tx tx, string address, Func<PeerRow, PeerRow> change, string? why = null)
    {
        var now = Now();
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            // Holds the row until this transaction ends: concurrent writers on PostgreSQL wait here and then read
            // what the first committed, instead of each losing the compare-and-swap below until attempts run out.
            await tx.ExecuteAsync("UPDATE federation_peers SET version = version WHERE address = @Address", new { Address = address });
            var current = await GetAsync(tx, address);
            var before = current ?? new PeerRow(address, null, null, 0, null, null, WireNames.Of(PeerTrustState.Unverified), null, null, 0, 0, now, null);
            var after = change(before) with { Version = before.Version + 1, UpdatedAt = now };
            var n = current is null
                ? await tx.ExecuteAsync(
                    """
                    INSERT INTO federation_peers (address, name, url, online, last_seen, capacity, trust_state, trust_reason, fingerprint, last_sequence, version, updated_at, distrusted)
                    VALUES (@Address, @Name, @Url, @Online, @LastSeen, @Capacity, @TrustState, @TrustReason, @Fingerprint, @LastSequence, @Version, @UpdatedAt, @Distrusted)
                    ON CONFLICT (address) DO NOTHING
                    """, after)
                : await tx.ExecuteAsync(
                    """
                    UPDATE federation_peers SET name = @Name, url = @Url, online = @Online, last_seen = @LastSeen, capacity = @Capacity, trust_state = @TrustState,
                        trust_reason = @TrustReason, fingerprint = @Fingerprint, last_sequence = @LastSequence, version = @Version, updated_at = @UpdatedAt,
                        distrusted = @Distrusted
                    WHERE address = @Address AND version = @OldVersion
                    """,
                    new
                    {
                        after.Name, after.Url, after.Online, after.LastSeen, after.Capacity, after.TrustState, after.TrustReason, after.Fingerprint,
                        after.LastSequence, after.Version, after.UpdatedAt, after.Distrusted, after.Address, OldVersion = before.Version,
                    });
            if (n == 1)
            {
                await RecordChangeAsync(tx, current, after, now, why);
                return ToView(after);
            }
        }
        return Error.Concurrency("Peer", address);
    }

    private async Task RecordChangeAsync(Tx tx, PeerRow? before, PeerRow after, long now, string? why)
    {
        var caller = Caller.System("federation");
        var data = new Dictionary<string, string> { ["trust"] = after.TrustState, ["reason"] = after.TrustReason ?? "" };
        if (after.Name is not null)
        {
            data["name"] = after.Name;
        }
        if (why is not null)
        {
            data["why"] = why;
        }
        var list = new List<LifecycleEvent>();
        var trusted = WireNames.Of(PeerTrustState.Trusted);
        var wasTrusted = before?.TrustState == trusted;
        var isTrusted = after.TrustState == trusted;
        if (!isTrusted && (before is null || before.TrustState != after.TrustState || before.TrustReason != after.TrustReason))
        {
            // One entry per change of verdict: a peer repeating the same refused presence does not grow the log.
            await audit.AppendAsync(tx, caller, new AuditEvent(RefusedAction, after.Address, AuditEvent.Denied, null, $"{after.TrustState}: {after.TrustReason}"));
            if (wasTrusted || before is null || before.TrustState != after.TrustState)
            {
                list.Add(new LifecycleEvent(Types.PeerUntrusted, after.Address, null, data));
            }
        }
        if (isTrusted && before is not null && !wasTrusted && before.Version > 0)
        {
            list.Add(new LifecycleEvent(Types.PeerTrusted, after.Address, null, data));
        }
        if ((before?.Online ?? 0) == 0 && after.Online == 1)
        {
            list.Add(new LifecycleEvent(Types.PeerOnline, after.Address, null, data));
        }
        if (before?.Online == 1 && after.Online == 0)
        {
            list.Add(new LifecycleEvent(Types.PeerOffline, after.Address, null, data));
        }
        await events.AppendAsync(tx, caller, list, DateTimeOffset.FromUnixTimeMilliseconds(now));
    }

    private static PeerView ToView(PeerRow r) => new(
        r.Address, r.Name, r.Url, r.Online == 1, r.LastSeen is { } seen ? DbTime.FromDb(seen) : null,
        r.Capacity is null ? null : JsonSerializer.Deserialize<CloudCapacity>(r.Capacity, WelkinJson.Client),
        WireNames.TryParse<PeerTrustState>(r.TrustState, out var state) ? state : PeerTrustState.Unverified,
        r.TrustReason, r.Fingerprint, DbTime.FromDb(r.UpdatedAt));

    private sealed record PeerRow(
        string Address, string? Name, string? Url, long Online, long? LastSeen, string? Capacity, string TrustState, string? TrustReason,
        string? Fingerprint, long LastSequence, long Version, long UpdatedAt, string? Distrusted);
}
