using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Configuration;

/// <summary>A machine as the Configuration Manager needs it: whose it is and whether it can take devices.</summary>
internal sealed record MachineRef(string Id, string AccountId, string InstanceId, string State, string? Host)
{
    public bool IsGone => State is "terminating" or "terminated";

    /// <summary>Running or paused: the guest is live, so devices change by hot-plug or not until its next start.</summary>
    public bool IsLive => State is "running" or "paused";
}

/// <summary>Access checks, machine look-ups and the unit accounting volumes share with machines.</summary>
internal static class Resources
{
    public static readonly string Terminated = WireNames.Of(MachineState.Terminated);

    public static Error? CanRead(Caller caller) =>
        !caller.Can(Permission.ResourcesRead) || (caller.IsProvider && !caller.Can(Permission.AccountsReadAll))
            ? Error.Forbidden("Reading resources needs the resources-read permission.")
            : null;

    public static Error? CanConfigure(Caller caller, string what) =>
        caller.Can(Permission.ResourcesConfigure) && !caller.IsProvider
            ? null
            : Error.Forbidden($"{what} needs the resources-configure permission of the account.");

    /// <summary>Whether the caller sees rows of <paramref name="accountId"/>; system work sees all.</summary>
    public static bool Sees(Caller caller, string accountId) => caller.CanSeeAccount(accountId);

    /// <summary>The machine, or a 404 when it does not exist or belongs to another account than <paramref name="accountId"/>.</summary>
    public static async Task<Result<MachineRef>> MachineAsync(Tx tx, string machineId, string accountId)
    {
        if (!Ids.IsValid(machineId, Ids.Machine))
        {
            return Error.InvalidId(machineId, "machine");
        }
        var machine = await tx.QuerySingleOrDefaultAsync<MachineRef>(
            "SELECT id AS Id, account_id AS AccountId, instance_id AS InstanceId, state AS State, host AS Host FROM machines WHERE id = @Id",
            new { Id = machineId });
        return machine is null || machine.AccountId != accountId ? Error.NotFound("Machine", machineId) : machine;
    }

    /// <summary>
    /// Takes the machine row's write lock without changing it, so that two transactions choosing
    /// devices for one machine run one after the other (PostgreSQL row lock; SQLite writers are
    /// serialised anyway). The version is left alone: nobody's optimistic check is disturbed.
    /// </summary>
    public static Task LockMachineAsync(Tx tx, string machineId) =>
        tx.ExecuteAsync("UPDATE machines SET version = version WHERE id = @Id", new { Id = machineId });

    public static async Task<long> LimitAsync(Tx tx, string accountId, string unit)
    {
        var json = await tx.QuerySingleOrDefaultAsync<string>("SELECT limits FROM accounts WHERE id = @Id", new { Id = accountId });
        var limits = json is null ? null : JsonSerializer.Deserialize<Dictionary<string, long>>(json);
        return limits is not null && limits.TryGetValue(unit, out var limit) ? limit : 0;
    }

    /// <summary>
    /// Draws <paramref name="units"/> from a contract line and from the account's quota with
    /// conditional UPDATEs, so concurrent requests can never take more than either allows.
    /// </summary>
    public static async Task<Error?> DrawAsync(Tx tx, string accountId, string contractId, long item, string unit, long units)
    {
        var line = await tx.ExecuteAsync(
            """
            UPDATE contract_items SET provisioned = provisioned + @Units
            WHERE contract_id = @ContractId AND item = @Item AND provisioned + @Units <= quantity
            """, new { Units = units, ContractId = contractId, Item = item });
        if (line == 0)
        {
            var usage = await tx.QuerySingleOrDefaultAsync<(long Quantity, long Provisioned)>(
                "SELECT quantity AS Quantity, provisioned AS Provisioned FROM contract_items WHERE contract_id = @ContractId AND item = @Item",
                new { ContractId = contractId, Item = item });
            return QuotaExceeded($"Line {item} of contract '{contractId}' has {usage.Quantity - usage.Provisioned} of {usage.Quantity} units free; {units} were asked for.");
        }
        var limit = await LimitAsync(tx, accountId, unit);
        await tx.ExecuteAsync(
            "INSERT INTO quotas (account_id, unit, ordered, provisioned) VALUES (@AccountId, @Unit, 0, 0) ON CONFLICT (account_id, unit) DO NOTHING",
            new { AccountId = accountId, Unit = unit });
        var quota = await tx.ExecuteAsync(
            """
            UPDATE quotas SET provisioned = provisioned + @Units
            WHERE account_id = @AccountId AND unit = @Unit AND provisioned + @Units <= @Limit
            """, new { Units = units, AccountId = accountId, Unit = unit, Limit = limit });
        return quota == 0
            ? QuotaExceeded($"The account's {unit} limit is {limit}; provisioning {units} more would exceed it.")
            : null;
    }

    /// <summary>Returns units to the line and the account (never below zero).</summary>
    public static async Task ReturnAsync(Tx tx, string accountId, string contractId, long item, string unit, long units)
    {
        await tx.ExecuteAsync(
            "UPDATE contract_items SET provisioned = CASE WHEN provisioned >= @Units THEN provisioned - @Units ELSE 0 END WHERE contract_id = @ContractId AND item = @Item",
            new { Units = units, ContractId = contractId, Item = item });
        await tx.ExecuteAsync(
            "UPDATE quotas SET provisioned = CASE WHEN provisioned >= @Units THEN provisioned - @Units ELSE 0 END WHERE account_id = @AccountId AND unit = @Unit",
            new { Units = units, AccountId = accountId, Unit = unit });
    }

    public static Error QuotaExceeded(string detail) => new("quota-exceeded", ErrorKind.QuotaExceeded, detail);

    public static string Clip(string s) => s.Length <= 100 ? s : s[..100];
}
