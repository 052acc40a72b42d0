using Dapper;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>The <c>instances</c> table: an instance's row, its state following its machines, its views.</summary>
internal static partial class MachineStore
{
    public const string InstanceColumns =
        "id AS Id, account_id AS AccountId, contract_id AS ContractId, item AS Item, offering_id AS OfferingId, template_id AS TemplateId, " +
        "template_version AS TemplateVersion, name AS Name, state AS State, spec AS Spec, version AS Version, created_at AS CreatedAt, " +
        "updated_at AS UpdatedAt, terminated_at AS TerminatedAt";

    private static readonly string InstanceTerminating = WireNames.Of(InstanceState.Terminating);
    private static readonly string InstanceTerminated = WireNames.Of(InstanceState.Terminated);

    public static Task<InstanceRow?> GetInstanceAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<InstanceRow>($"SELECT {InstanceColumns} FROM instances WHERE id = @Id", new { Id = id });

    /// <summary>The instance a caller asks to change, checked as <see cref="ForChangeAsync"/> checks a machine.</summary>
    public static async Task<Result<InstanceRow>> InstanceForChangeAsync(Tx tx, Caller caller, string id, long? expectedVersion)
    {
        var instance = await GetInstanceAsync(tx, id);
        if (instance is null || !Tenancy.Sees(caller, instance.AccountId))
        {
            return Common.Error.NotFound("Instance", id);
        }
        return expectedVersion is { } expected && expected != instance.Version ? Common.Error.VersionMismatch("Instance", id, expected, instance.Version) : instance;
    }

    public static Task<InstanceRow?> GetInstanceAsync(IDatabase db, string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<InstanceRow>($"SELECT {InstanceColumns} FROM instances WHERE id = @Id", new { Id = id }, ct);

    public static Task<string?> AccountOfInstanceAsync(Tx tx, string id) =>
        tx.ExecuteScalarAsync<string?>("SELECT account_id FROM instances WHERE id = @Id", new { Id = id });

    public static Task<string?> AccountOfInstanceAsync(IDatabase db, string id, CancellationToken ct) =>
        db.ExecuteScalarAsync<string?>("SELECT account_id FROM instances WHERE id = @Id", new { Id = id }, ct);

    public static Task<string?> StateOfInstanceAsync(IDatabase db, string id, CancellationToken ct) =>
        db.ExecuteScalarAsync<string?>("SELECT state FROM instances WHERE id = @Id", new { Id = id }, ct);

    public static Task InsertInstanceAsync(Tx tx, InstanceRow r) =>
        tx.ExecuteAsync(
            """
            INSERT INTO instances (id, account_id, contract_id, item, offering_id, template_id, template_version, name, state, spec, version, created_at, updated_at)
            VALUES (@Id, @AccountId, @ContractId, @Item, @OfferingId, @TemplateId, @TemplateVersion, @Name, @State, @Spec, @Version, @CreatedAt, @UpdatedAt)
            """, r);

    /// <summary>A page of instances (ordered by id) after <paramref name="after"/>, of one account or all (<paramref name="accountId"/> null).</summary>
    public static async Task<IReadOnlyList<(InstanceRow Instance, List<string> Machines)>> ListInstancesAsync(
        IDatabase db, string? accountId, string? contractId, string? state, string after, int take, CancellationToken ct) =>
        await db.ReadAsync<IReadOnlyList<(InstanceRow, List<string>)>>(async tx =>
        {
            var rows = await tx.QueryAsync<InstanceRow>(
                $"""
                SELECT {InstanceColumns} FROM instances
                WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND (@ContractId IS NULL OR contract_id = @ContractId)
                  AND (@State IS NULL OR state = @State)
                ORDER BY id LIMIT @Take
                """,
                new { After = after, Scope = accountId, ContractId = contractId, State = state, Take = take });
            var list = new List<(InstanceRow, List<string>)>();
            foreach (var row in rows)
            {
                list.Add((row, await IdsOfInstanceAsync(tx, row.Id)));
            }
            return list;
        }, ct);

    /// <summary>Stores a new spec (a scale's new count) conditional on the version read; false when another change came first.</summary>
    public static async Task<bool> UpdateInstanceSpecAsync(Tx tx, InstanceRow instance, InstanceSpec spec, long now) =>
        await tx.ExecuteAsync(
            "UPDATE instances SET spec = @Spec, version = version + 1, updated_at = @Now WHERE id = @Id AND version = @OldVersion",
            new { Spec = Serialize(spec), Now = now, instance.Id, OldVersion = instance.Version }) == 1;

    /// <summary>Takes a new version of the instance without changing it (its machines were reconfigured).</summary>
    public static Task TouchInstanceAsync(Tx tx, string id, long now) =>
        tx.ExecuteAsync("UPDATE instances SET version = version + 1, updated_at = @Now WHERE id = @Id", new { Now = now, Id = id });

    /// <summary>Marks the instance terminating, conditional on the version read; false when another change came first.</summary>
    public static async Task<bool> MarkTerminatingAsync(Tx tx, InstanceRow instance, long now) =>
        await tx.ExecuteAsync(
            "UPDATE instances SET state = @Terminating, version = version + 1, updated_at = @Now WHERE id = @Id AND version = @OldVersion",
            new { Terminating = InstanceTerminating, Now = now, instance.Id, OldVersion = instance.Version }) == 1;

    /// <summary>Ends an instance.terminate job: terminated when every machine went, else in error.</summary>
    public static Task FinishTerminationAsync(Tx tx, string id, bool succeeded, long now) =>
        succeeded
            ? tx.ExecuteAsync(
                "UPDATE instances SET state = @Terminated, terminated_at = @Now, updated_at = @Now, version = version + 1 WHERE id = @Id AND state <> @Terminated",
                new { Terminated = InstanceTerminated, Now = now, Id = id })
            : tx.ExecuteAsync("UPDATE instances SET state = @Error, updated_at = @Now, version = version + 1 WHERE id = @Id",
                new { Error = WireNames.Of(InstanceState.Error), Now = now, Id = id });

    /// <summary>A terminated contract's instances: terminating while their machines are released, then terminated.</summary>
    public static Task<Common.Result<bool>> MarkContractInstancesAsync(IDatabase db, string contractId, bool terminated, long now, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            await (terminated
                ? tx.ExecuteAsync(
                    "UPDATE instances SET state = @Terminated, terminated_at = @Now, updated_at = @Now, version = version + 1 WHERE contract_id = @Id AND state <> @Terminated",
                    new { Terminated = InstanceTerminated, Now = now, Id = contractId })
                : tx.ExecuteAsync(
                    """
                    UPDATE instances SET state = @Terminating, updated_at = @Now, version = version + 1
                    WHERE contract_id = @Id AND state <> @Terminated AND state <> @Terminating
                    """,
                    new { Terminating = InstanceTerminating, Terminated = InstanceTerminated, Now = now, Id = contractId }));
            return true;
        }, ct);

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

    public static InstanceView ToView(InstanceRow r, IReadOnlyList<string> machines)
    {
        var spec = r.ParsedSpec;
        var systems = spec.Secrets is null
            ? spec.VirtualSystems
            : spec.VirtualSystems.Select(c => c.Properties is null ? c : c with { Properties = SecretProperties.Masked(c.Properties, spec.Secrets.GetValueOrDefault(c.VirtualSystem)) }).ToList();
        return new(r.Id, r.AccountId, r.ContractId, (int)r.Item, r.OfferingId, r.TemplateId, (int)r.TemplateVersion, r.Name, WireNames.Parse<InstanceState>(r.State),
            systems, machines, r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));
    }
}
