using Dapper;
using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// The owner of the <c>machines</c> and <c>instances</c> tables: every write to them goes through
/// here (and the reads other rooms need), and this is the one place where a machine changes state:
/// every change records the usage events metering needs (activated, deactivated, failed, released)
/// in the same transaction, at the moment of the change, with the sizes that apply. The
/// instances half is in MachineStore.Instances.cs.
/// </summary>
internal static partial class MachineStore
{
    public const string MachineColumns =
        "id AS Id, account_id AS AccountId, instance_id AS InstanceId, contract_id AS ContractId, virtual_system AS VirtualSystem, name AS Name, " +
        "state AS State, host AS Host, vcpus AS Vcpus, memory_mib AS MemoryMiB, disk_gib AS DiskGiB, image_id AS ImageId, config AS Config, " +
        "access AS Access, error AS Error, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt, state_changed_at AS StateChangedAt, " +
        "terminated_at AS TerminatedAt, pool AS Pool, peer AS Peer";

    public static readonly string Provisioning = WireNames.Of(MachineState.Provisioning);
    public static readonly string Running = WireNames.Of(MachineState.Running);
    public static readonly string Paused = WireNames.Of(MachineState.Paused);
    public static readonly string Inactive = WireNames.Of(MachineState.Inactive);

    /// <summary>
    /// Takes a new version of the machine without changing it (a job was accepted for it), so a
    /// concurrent change of the same version fails; null when another change came first.
    /// </summary>
    public static async Task<MachineRow?> TouchAsync(Tx tx, MachineRow m, long now)
    {
        var current = m with { Version = m.Version + 1, UpdatedAt = now };
        var n = await tx.ExecuteAsync("UPDATE machines SET version = @Version, updated_at = @UpdatedAt WHERE id = @Id AND version = @OldVersion",
            new { current.Version, current.UpdatedAt, current.Id, OldVersion = m.Version });
        return n == 0 ? null : current;
    }

    public static readonly string Terminating = WireNames.Of(MachineState.Terminating);
    public static readonly string Terminated = WireNames.Of(MachineState.Terminated);
    public static readonly string Error = WireNames.Of(MachineState.Error);
    public static readonly string Unknown = WireNames.Of(MachineState.Unknown);

    /// <summary>Running, paused and inactive machines can move to another host.</summary>
    public static bool CanMigrate(string state) => state == Running || state == Paused || state == Inactive;

    public static Task<MachineRow?> GetMachineAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<MachineRow>($"SELECT {MachineColumns} FROM machines WHERE id = @Id", new { Id = id });

    /// <summary>
    /// The machine a caller asks to change: not-found when it is missing or of an account the
    /// caller does not see (tenancy), precondition-failed when <paramref name="expectedVersion"/> is stale.
    /// </summary>
    public static async Task<Result<MachineRow>> ForChangeAsync(Tx tx, Caller caller, string id, long? expectedVersion)
    {
        var m = await GetMachineAsync(tx, id);
        if (m is null || !Tenancy.Sees(caller, m.AccountId))
        {
            return Common.Error.NotFound("Machine", id);
        }
        return expectedVersion is { } expected && expected != m.Version ? Common.Error.VersionMismatch("Machine", id, expected, m.Version) : m;
    }

    public static Task<MachineRow?> GetMachineAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<MachineRow>($"SELECT {MachineColumns} FROM machines WHERE id = @Id", new { Id = id }, ct);

    public static async Task<List<MachineRow>> MachinesOfInstanceAsync(Tx tx, string instanceId) =>
        (await tx.QueryAsync<MachineRow>($"SELECT {MachineColumns} FROM machines WHERE instance_id = @Id ORDER BY id", new { Id = instanceId })).AsList();

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, WelkinJson.Client);

    /// <summary>The event data metering reads: exact sizes and where the machine belongs.</summary>
    public static Dictionary<string, string> Usage(MachineRow m) => new()
    {
        ["vcpus"] = m.Vcpus.ToString(CultureInfo.InvariantCulture),
        ["memoryMiB"] = m.MemoryMiB.ToString(CultureInfo.InvariantCulture),
        // Metered disk: the system disk and the data disks the machine holds on its host.
        ["diskGiB"] = m.TotalDiskGiB.ToString(CultureInfo.InvariantCulture),
        ["contractId"] = m.ContractId,
        ["instanceId"] = m.InstanceId,
        ["item"] = m.ParsedConfig.Item.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// Moves a machine from the state it was read in to <paramref name="to"/>, conditional on that
    /// state (another writer that got there first wins and this returns null). With
    /// <paramref name="release"/> the machine gives back its unit (contract line and account) and
    /// its capacity; the caller releases the placement after the commit.
    /// </summary>
    public static async Task<MachineRow?> TransitionAsync(
        Tx tx, EventLog events, Caller caller, MachineRow m, MachineState to, long now,
        string? error = null, bool release = false, StoredAccess? access = null, (int Vcpus, long MemoryMiB)? size = null)
    {
        var target = WireNames.Of(to);
        var releasing = release && m.Holds;
        var updated = m with
        {
            State = target,
            Error = to == MachineState.Error ? error : null,
            Access = access is null ? m.Access : Serialize(access),
            Vcpus = size?.Vcpus ?? m.Vcpus,
            MemoryMiB = size?.MemoryMiB ?? m.MemoryMiB,
            Version = m.Version + 1,
            UpdatedAt = now,
            StateChangedAt = target == m.State ? m.StateChangedAt : now,
            TerminatedAt = releasing ? now : m.TerminatedAt,
        };
        var n = await tx.ExecuteAsync(
            """
            UPDATE machines SET state = @State, error = @Error, access = @Access, vcpus = @Vcpus, memory_mib = @MemoryMiB, version = @Version,
                updated_at = @UpdatedAt, state_changed_at = @StateChangedAt, terminated_at = @TerminatedAt
            WHERE id = @Id AND state = @OldState AND version = @OldVersion
            """,
            new
            {
                updated.State, updated.Error, updated.Access, updated.Vcpus, updated.MemoryMiB, updated.Version, updated.UpdatedAt, updated.StateChangedAt,
                updated.TerminatedAt, updated.Id, OldState = m.State, OldVersion = m.Version,
            });
        if (n == 0)
        {
            return null;
        }
        if (to == MachineState.Terminated)
        {
            await Configuration.MachineDevices.ReleaseAsync(tx, m.Id, now);
        }
        var list = new List<LifecycleEvent>();
        var wasActive = m.State == Running;
        var isActive = target == Running;
        if (wasActive && !isActive)
        {
            list.Add(new LifecycleEvent(EventLog.Types.MachineDeactivated, m.Id, m.AccountId, Usage(m)));
        }
        if (size is not null && (size.Value.Vcpus != m.Vcpus || size.Value.MemoryMiB != m.MemoryMiB))
        {
            var data = Usage(updated);
            data["oldVcpus"] = m.Vcpus.ToString(CultureInfo.InvariantCulture);
            data["oldMemoryMiB"] = m.MemoryMiB.ToString(CultureInfo.InvariantCulture);
            list.Add(new LifecycleEvent(EventLog.Types.MachineResized, m.Id, m.AccountId, data));
        }
        if (!wasActive && isActive)
        {
            list.Add(new LifecycleEvent(EventLog.Types.MachineActivated, m.Id, m.AccountId, Usage(updated)));
        }
        if (to == MachineState.Unknown && m.State != Unknown)
        {
            list.Add(new LifecycleEvent(EventLog.Types.MachineUnreachable, m.Id, m.AccountId, Usage(updated)));
        }
        if (to == MachineState.Error && m.State != Error)
        {
            var data = Usage(updated);
            data["error"] = error ?? "";
            list.Add(new LifecycleEvent(EventLog.Types.MachineFailed, m.Id, m.AccountId, data));
        }
        if (releasing)
        {
            var unit = await Contracts.ContractStore.LimitUnitAsync(tx, m.ContractId, m.ParsedConfig.Item);
            await Contracts.Quotas.ReturnProvisionedAsync(tx, m.AccountId, m.ContractId, m.ParsedConfig.Item, unit, 1);
            list.Add(new LifecycleEvent(EventLog.Types.MachineReleased, m.Id, m.AccountId, Usage(updated)));
        }
        await events.AppendAsync(tx, caller, list, DateTimeOffset.FromUnixTimeMilliseconds(now));
        await RefreshInstanceAsync(tx, m.InstanceId, now);
        return updated;
    }

    public static MachineView ToView(MachineRow r, string? password = null)
    {
        var config = r.ParsedConfig;
        var access = r.ParsedAccess;
        // A peer places the machine on its own hosts; this cloud's name for the peer's pool host says nothing the consumer needs.
        return new MachineView(r.Id, r.AccountId, r.InstanceId, r.ContractId, r.VirtualSystem, r.Name, r.MachineState, r.Peer is null ? r.Host : null, (int)r.Vcpus, r.MemoryMiB,
            r.DiskGiB, r.ImageId, config.OperatingSystem, config.Software, SecretProperties.Masked(config.Properties, config.Secrets),
            access is null ? null : new MachineAccess(access.Addresses, access.Endpoints, access.User, access.SshKeyFingerprint, password),
            r.Error, r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt), DbTime.FromDb(r.StateChangedAt), DbTime.FromDb(r.TerminatedAt), r.Pool, r.Peer,
            [.. (config.DataDisks ?? []).Select(d => new MachineDataDisk(d.Name, d.SizeGiB, d.ImageId, d.Device))]);
    }

    public static MachineSpec SpecOf(MachineRow m, IReadOnlyList<VolumeAttachment>? volumes = null, IReadOnlyList<NetworkAttachment>? networks = null)
    {
        var c = m.ParsedConfig;
        return new MachineSpec(m.Id, m.AccountId, m.Host!, (int)m.Vcpus, m.MemoryMiB, m.DiskGiB, m.ImageId, c.OperatingSystem, c.Software, c.Properties,
            c.SshPublicKey, volumes ?? [], networks ?? [], m.InstanceId, c.DataDisks);
    }

    public static DriverMachineState? DriverStateOf(string state) => state switch
    {
        "provisioning" => DriverMachineState.Creating,
        "running" => DriverMachineState.Running,
        "paused" => DriverMachineState.Paused,
        "inactive" => DriverMachineState.Stopped,
        "error" => DriverMachineState.Error,
        "terminating" => DriverMachineState.Running,
        "unknown" => DriverMachineState.Running,
        _ => null,
    };

    /// <summary>Records new machines (state provisioning, placed on their hosts) and their machine.provisioned events.</summary>
    public static async Task InsertAsync(Tx tx, EventLog events, Caller caller, IReadOnlyList<MachineRow> machines, long now)
    {
        if (machines.Count == 0)
        {
            return;
        }
        await tx.ExecuteAsync(
            """
            INSERT INTO machines (id, account_id, instance_id, contract_id, virtual_system, name, state, host, pool, peer, vcpus, memory_mib, disk_gib, image_id,
                config, access, error, version, created_at, updated_at, state_changed_at)
            VALUES (@Id, @AccountId, @InstanceId, @ContractId, @VirtualSystem, @Name, @State, @Host, @Pool, @Peer, @Vcpus, @MemoryMiB, @DiskGiB, @ImageId,
                @Config, @Access, @Error, @Version, @CreatedAt, @UpdatedAt, @StateChangedAt)
            """, machines);
        await events.AppendAsync(tx, caller,
            machines.Select(m => new LifecycleEvent(EventLog.Types.MachineProvisioned, m.Id, m.AccountId, Usage(m))).ToList(),
            DateTimeOffset.FromUnixTimeMilliseconds(now));
    }

    /// <summary>A page of machines (ordered by id) after <paramref name="after"/>, of one account or all (<paramref name="accountId"/> null).</summary>
    public static Task<IReadOnlyList<MachineRow>> ListAsync(
        IDatabase db, string? accountId, string? instanceId, string? state, string after, int take, CancellationToken ct) =>
        db.QueryAsync<MachineRow>(
            $"""
            SELECT {MachineColumns} FROM machines
            WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND (@InstanceId IS NULL OR instance_id = @InstanceId)
              AND (@State IS NULL OR state = @State)
            ORDER BY id LIMIT @Take
            """,
            new { After = after, Scope = accountId, InstanceId = instanceId, State = state, Take = take }, ct);

    public static async Task<List<string>> IdsOfInstanceAsync(Tx tx, string instanceId) =>
        (await tx.QueryAsync<string>("SELECT id FROM machines WHERE instance_id = @Id ORDER BY id", new { Id = instanceId })).AsList();

    public static Task<IReadOnlyList<string>> IdsOfInstanceAsync(IDatabase db, string instanceId, CancellationToken ct) =>
        db.QueryAsync<string>("SELECT id FROM machines WHERE instance_id = @Id ORDER BY id", new { Id = instanceId }, ct);

    /// <summary>Ids of every machine the contract ever had.</summary>
    public static async Task<List<string>> IdsOfContractAsync(Tx tx, string contractId) =>
        (await tx.QueryAsync<string>("SELECT id FROM machines WHERE contract_id = @Id ORDER BY id", new { Id = contractId })).AsList();

    public static Task<IReadOnlyList<string>> IdsOfContractAsync(IDatabase db, string contractId, CancellationToken ct) =>
        db.QueryAsync<string>("SELECT id FROM machines WHERE contract_id = @Id ORDER BY id", new { Id = contractId }, ct);

    public static Task<string?> AccountOfMachineAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<string>("SELECT account_id FROM machines WHERE id = @Id", new { Id = id }, ct);

    /// <summary>An instance's machines that still hold their place (not released), with their states.</summary>
    public static Task<IReadOnlyList<(string Id, string State)>> HoldingOfInstanceAsync(IDatabase db, string instanceId, CancellationToken ct) =>
        db.QueryAsync<(string Id, string State)>(
            "SELECT id AS Id, state AS State FROM machines WHERE instance_id = @Id AND terminated_at IS NULL ORDER BY id", new { Id = instanceId }, ct);

    /// <summary>When each of the contract's machines that is neither in error nor unknown last changed state (when it left error or unknown, if it was).</summary>
    public static async Task<Dictionary<string, long>> StateChangesOutsideErrorAsync(IDatabase db, string contractId, CancellationToken ct) =>
        (await db.QueryAsync<(string Id, long At)>(
            "SELECT id AS Id, state_changed_at AS At FROM machines WHERE contract_id = @Id AND state <> 'error' AND state <> 'unknown'", new { Id = contractId }, ct))
        .ToDictionary(r => r.Id, r => r.At, StringComparer.Ordinal);

    /// <summary>Ids of a contract's machines that are not terminated yet.</summary>
    public static Task<IReadOnlyList<string>> LiveOfContractAsync(IDatabase db, string contractId, CancellationToken ct) =>
        db.QueryAsync<string>("SELECT id FROM machines WHERE contract_id = @Id AND state <> @Terminated ORDER BY id", new { Id = contractId, Terminated }, ct);

    /// <summary>Machines that hold capacity on a host (placed and not released), all of them or those of one host.</summary>
    public static Task<IReadOnlyList<MachineRow>> HoldingAsync(IDatabase db, string? host, CancellationToken ct) =>
        db.QueryAsync<MachineRow>(
            $"SELECT {MachineColumns} FROM machines WHERE terminated_at IS NULL AND host IS NOT NULL AND (@Host IS NULL OR host = @Host) ORDER BY id",
            new { Host = host }, ct);

    public static Task<long> CountOnHostAsync(IDatabase db, string host, CancellationToken ct) =>
        db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM machines WHERE host = @Host AND terminated_at IS NULL", new { Host = host }, ct);

    /// <summary>The machines of a pool that have not been released (to tell their owners when a peer's pool becomes unavailable).</summary>
    public static async Task<List<(string Id, string AccountId)>> HoldingInPoolAsync(Tx tx, string pool) =>
        (await tx.QueryAsync<(string Id, string AccountId)>(
            "SELECT id AS Id, account_id AS AccountId FROM machines WHERE pool = @Pool AND terminated_at IS NULL ORDER BY id", new { Pool = pool })).AsList();

    /// <summary>Machines placed in a peer's pools that held capacity at some time in [<paramref name="from"/>, <paramref name="to"/>) (Unix ms).</summary>
    public static Task<IReadOnlyList<MachineRow>> OfPeerAsync(IDatabase db, string peer, long from, long to, CancellationToken ct) =>
        db.QueryAsync<MachineRow>(
            $"SELECT {MachineColumns} FROM machines WHERE peer = @Peer AND created_at < @To AND (terminated_at IS NULL OR terminated_at >= @From) ORDER BY id",
            new { Peer = peer, From = from, To = to }, ct);

    /// <summary>Running machines with their size and pool, for the Service Monitor's measurements.</summary>
    public static Task<IReadOnlyList<RunningMachine>> RunningAsync(IDatabase db, CancellationToken ct) =>
        db.QueryAsync<RunningMachine>("SELECT id AS Id, vcpus AS Vcpus, pool AS Pool FROM machines WHERE state = @Running ORDER BY id", new { Running }, ct);

    /// <summary>
    /// Gives machines recorded before host pools existed the pool that has their host (once, at
    /// start); machines on hosts no pool has keep none.
    /// </summary>
    public static Task<Common.Result<int>> AssignPoolsAsync(IDatabase db, IReadOnlyDictionary<string, string> poolOfHost, CancellationToken ct) =>
        db.WriteAsync<int>(async tx =>
        {
            var hosts = (await tx.QueryAsync<string>("SELECT DISTINCT host FROM machines WHERE pool IS NULL AND host IS NOT NULL")).AsList();
            var n = 0;
            foreach (var host in hosts.Where(poolOfHost.ContainsKey))
            {
                n += await tx.ExecuteAsync("UPDATE machines SET pool = @Pool WHERE pool IS NULL AND host = @Host", new { Pool = poolOfHost[host], Host = host });
            }
            return n;
        }, ct);

    /// <summary>
    /// Takes the machine row's write lock without changing it, so that two transactions choosing
    /// devices for one machine run one after the other (PostgreSQL row lock; SQLite writers are
    /// serialised anyway). The version is left alone: nobody's optimistic check is disturbed.
    /// </summary>
    public static Task LockAsync(Tx tx, string machineId) =>
        tx.ExecuteAsync("UPDATE machines SET version = version WHERE id = @Id", new { Id = machineId });

    /// <summary>
    /// Sets configuration properties of a machine (only the properties member of its config
    /// changes), with a new version; null when another change came first.
    /// </summary>
    public static async Task<MachineRow?> SetPropertiesAsync(Tx tx, MachineRow machine, IReadOnlyDictionary<string, string> changes, long now)
    {
        var config = machine.ParsedConfig;
        var properties = new SortedDictionary<string, string>(config.Properties.ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal);
        foreach (var (key, value) in changes)
        {
            properties[key] = value;
        }
        var updated = machine with { Config = Serialize(config with { Properties = properties }), Version = machine.Version + 1, UpdatedAt = now };
        var n = await tx.ExecuteAsync("UPDATE machines SET config = @Config, version = @Version, updated_at = @UpdatedAt WHERE id = @Id AND version = @Old",
            new { updated.Config, updated.Version, updated.UpdatedAt, updated.Id, Old = machine.Version });
        return n == 0 ? null : updated;
    }

    /// <summary>Records the host a machine moved to (within its pool), with a new version.</summary>
    public static Task<int> MoveHostAsync(Tx tx, string id, string host, long now) =>
        tx.ExecuteAsync("UPDATE machines SET host = @Host, version = version + 1, updated_at = @Now WHERE id = @Id", new { Host = host, Now = now, Id = id });

    /// <summary>Records the pool, host and peer cloud a machine moved to (another pool, maybe another cloud), with a new version.</summary>
    public static Task<int> MovePoolAsync(Tx tx, string id, string pool, string host, string? peer, long now) =>
        tx.ExecuteAsync("UPDATE machines SET pool = @Pool, host = @Host, peer = @Peer, version = version + 1, updated_at = @Now WHERE id = @Id",
            new { Pool = pool, Host = host, Peer = peer, Now = now, Id = id });

    /// <summary>Replaces how the machine is reached (a password hash once one was issued).</summary>
    public static Task<int> SetAccessAsync(Tx tx, string id, StoredAccess access) =>
        tx.ExecuteAsync("UPDATE machines SET access = @Access WHERE id = @Id", new { Access = Serialize(access), Id = id });
}

/// <summary>A running machine as the Service Monitor measures it.</summary>
internal sealed class RunningMachine
{
    public string Id { get; init; } = "";

    public long Vcpus { get; init; }

    public string? Pool { get; init; }
}
