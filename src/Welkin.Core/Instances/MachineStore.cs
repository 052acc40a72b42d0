using Dapper;
using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Placement;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>What a machine row keeps beyond its columns: the choices it was made with, so that it can be re-created after a crash.</summary>
internal sealed record MachineConfig(
    int Item,
    string? OperatingSystem,
    IReadOnlyDictionary<string, string> Software,
    IReadOnlyDictionary<string, string> Properties,
    string? SshPublicKey,
    string? AntiAffinityGroup);

/// <summary>How to reach a machine as stored: never a password, only its hash once one was issued.</summary>
internal sealed record StoredAccess(
    IReadOnlyList<string> Addresses,
    IReadOnlyList<AccessEndpoint> Endpoints,
    string User,
    string? SshKeyFingerprint,
    string? PasswordHash = null);

/// <summary>An instance's spec column: the resolved choices and where its machines may run.</summary>
internal sealed record InstanceSpec(
    IReadOnlyList<VirtualSystemChoice> VirtualSystems,
    bool AntiAffinity,
    IReadOnlyList<string>? Jurisdictions,
    IReadOnlyList<string>? Regions,
    string LimitUnit,
    string? SshPublicKey,
    IReadOnlyDictionary<string, string?> Images);

internal sealed record MachineRow(
    string Id, string AccountId, string InstanceId, string ContractId, string VirtualSystem, string Name, string State, string? Host,
    long Vcpus, long MemoryMiB, long DiskGiB, string? ImageId, string Config, string? Access, string? Error, long Version,
    long CreatedAt, long UpdatedAt, long StateChangedAt, long? TerminatedAt)
{
    public MachineState MachineState => WireNames.Parse<MachineState>(State);

    public MachineConfig ParsedConfig => JsonSerializer.Deserialize<MachineConfig>(Config, WelkinJson.Client)!;

    public StoredAccess? ParsedAccess => Access is null ? null : JsonSerializer.Deserialize<StoredAccess>(Access, WelkinJson.Client);

    /// <summary>True while the machine holds host capacity and a unit of its contract line.</summary>
    public bool Holds => TerminatedAt is null;

    public Core.Placement.Placement? Placement =>
        Host is null ? null : new Core.Placement.Placement(Host, (int)Vcpus, MemoryMiB, DiskGiB, ParsedConfig.AntiAffinityGroup);
}

internal sealed record InstanceRow(
    string Id, string AccountId, string ContractId, long Item, string OfferingId, string TemplateId, long TemplateVersion, string Name,
    string State, string Spec, long Version, long CreatedAt, long UpdatedAt, long? TerminatedAt)
{
    public InstanceSpec ParsedSpec => JsonSerializer.Deserialize<InstanceSpec>(Spec, WelkinJson.Client)!;
}

/// <summary>
/// SQL of machines and instances, and the one place where a machine changes state: every change
/// records the usage events metering needs (activated, deactivated, failed, released) in the same
/// transaction, at the moment of the change, with the sizes that apply.
/// </summary>
internal static class MachineStore
{
    public const string MachineColumns =
        "id AS Id, account_id AS AccountId, instance_id AS InstanceId, contract_id AS ContractId, virtual_system AS VirtualSystem, name AS Name, " +
        "state AS State, host AS Host, vcpus AS Vcpus, memory_mib AS MemoryMiB, disk_gib AS DiskGiB, image_id AS ImageId, config AS Config, " +
        "access AS Access, error AS Error, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt, state_changed_at AS StateChangedAt, " +
        "terminated_at AS TerminatedAt";

    public const string InstanceColumns =
        "id AS Id, account_id AS AccountId, contract_id AS ContractId, item AS Item, offering_id AS OfferingId, template_id AS TemplateId, " +
        "template_version AS TemplateVersion, name AS Name, state AS State, spec AS Spec, version AS Version, created_at AS CreatedAt, " +
        "updated_at AS UpdatedAt, terminated_at AS TerminatedAt";

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

    /// <summary>Running, paused and inactive machines can move to another host.</summary>
    public static bool CanMigrate(string state) => state == Running || state == Paused || state == Inactive;
    public static readonly string Terminating = WireNames.Of(MachineState.Terminating);
    public static readonly string Terminated = WireNames.Of(MachineState.Terminated);
    public static readonly string Error = WireNames.Of(MachineState.Error);

    public static Task<MachineRow?> GetMachineAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<MachineRow>($"SELECT {MachineColumns} FROM machines WHERE id = @Id", new { Id = id });

    public static Task<InstanceRow?> GetInstanceAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<InstanceRow>($"SELECT {InstanceColumns} FROM instances WHERE id = @Id", new { Id = id });

    public static async Task<List<MachineRow>> MachinesOfInstanceAsync(Tx tx, string instanceId) =>
        (await tx.QueryAsync<MachineRow>($"SELECT {MachineColumns} FROM machines WHERE instance_id = @Id ORDER BY id", new { Id = instanceId })).AsList();

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, WelkinJson.Client);

    /// <summary>The event data metering reads: exact sizes and where the machine belongs.</summary>
    public static Dictionary<string, string> Usage(MachineRow m) => new()
    {
        ["vcpus"] = m.Vcpus.ToString(CultureInfo.InvariantCulture),
        ["memoryMiB"] = m.MemoryMiB.ToString(CultureInfo.InvariantCulture),
        ["diskGiB"] = m.DiskGiB.ToString(CultureInfo.InvariantCulture),
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
        if (to == MachineState.Error && m.State != Error)
        {
            var data = Usage(updated);
            data["error"] = error ?? "";
            list.Add(new LifecycleEvent(EventLog.Types.MachineFailed, m.Id, m.AccountId, data));
        }
        if (releasing)
        {
            var unit = await tx.ExecuteScalarAsync<string>(
                "SELECT limit_unit FROM contract_items WHERE contract_id = @ContractId AND item = @Item",
                new { m.ContractId, Item = m.ParsedConfig.Item });
            await Contracts.Quotas.ReturnProvisionedAsync(tx, m.AccountId, m.ContractId, m.ParsedConfig.Item, unit, 1);
            list.Add(new LifecycleEvent(EventLog.Types.MachineReleased, m.Id, m.AccountId, Usage(updated)));
        }
        await events.AppendAsync(tx, caller, list, DateTimeOffset.FromUnixTimeMilliseconds(now));
        await RefreshInstanceAsync(tx, m.InstanceId, now);
        return updated;
    }

    /// <summary>
    /// The instance's state follows its machines: provisioning while any is, error when any failed,
    /// active when any runs, inactive when all are stopped. Terminating and terminated are set by
    /// their job only.
    /// </summary>
    public static Task RefreshInstanceAsync(Tx tx, string instanceId, long now) =>
        // One statement (it runs in every machine transition): the new state is computed from the
        // machines and written only when it differs.
        tx.ExecuteAsync(
            """
            UPDATE instances SET state = n.state, updated_at = @Now, version = version + 1
            FROM (
                SELECT CASE
                    WHEN SUM(CASE WHEN state = @Provisioning THEN 1 ELSE 0 END) > 0 THEN @InstanceProvisioning
                    WHEN SUM(CASE WHEN state = @Error THEN 1 ELSE 0 END) > 0 THEN @InstanceError
                    WHEN SUM(CASE WHEN state = @Running OR state = @Paused THEN 1 ELSE 0 END) > 0 THEN @InstanceActive
                    ELSE @InstanceInactive END AS state
                FROM machines WHERE instance_id = @Id AND state <> @Terminated AND state <> @Terminating
            ) AS n
            WHERE instances.id = @Id AND instances.state <> 'terminating' AND instances.state <> 'terminated' AND instances.state <> n.state
            """,
            new
            {
                Now = now, Id = instanceId, Provisioning, Error, Running, Paused, Terminated, Terminating,
                InstanceProvisioning = WireNames.Of(InstanceState.Provisioning), InstanceError = WireNames.Of(InstanceState.Error),
                InstanceActive = WireNames.Of(InstanceState.Active), InstanceInactive = WireNames.Of(InstanceState.Inactive),
            });

    public static MachineView ToView(MachineRow r, string? password = null)
    {
        var config = r.ParsedConfig;
        var access = r.ParsedAccess;
        return new MachineView(r.Id, r.AccountId, r.InstanceId, r.ContractId, r.VirtualSystem, r.Name, r.MachineState, r.Host, (int)r.Vcpus, r.MemoryMiB,
            r.DiskGiB, r.ImageId, config.OperatingSystem, config.Software, config.Properties,
            access is null ? null : new MachineAccess(access.Addresses, access.Endpoints, access.User, access.SshKeyFingerprint, password),
            r.Error, r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt), DbTime.FromDb(r.StateChangedAt), DbTime.FromDb(r.TerminatedAt));
    }

    public static InstanceView ToView(InstanceRow r, IReadOnlyList<string> machines) =>
        new(r.Id, r.AccountId, r.ContractId, (int)r.Item, r.OfferingId, r.TemplateId, (int)r.TemplateVersion, r.Name, WireNames.Parse<InstanceState>(r.State),
            r.ParsedSpec.VirtualSystems, machines, r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));

    public static MachineSpec SpecOf(MachineRow m, IReadOnlyList<VolumeAttachment>? volumes = null, IReadOnlyList<NetworkAttachment>? networks = null)
    {
        var c = m.ParsedConfig;
        return new MachineSpec(m.Id, m.AccountId, m.Host!, (int)m.Vcpus, m.MemoryMiB, m.DiskGiB, m.ImageId, c.OperatingSystem, c.Software, c.Properties,
            c.SshPublicKey, volumes ?? [], networks ?? [], m.InstanceId);
    }

    public static DriverMachineState? DriverStateOf(string state) => state switch
    {
        "provisioning" => DriverMachineState.Creating,
        "running" => DriverMachineState.Running,
        "paused" => DriverMachineState.Paused,
        "inactive" => DriverMachineState.Stopped,
        "error" => DriverMachineState.Error,
        "terminating" => DriverMachineState.Running,
        _ => null,
    };
}
