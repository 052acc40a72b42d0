using System.Globalization;
using System.Text.Json;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Core.Contracts;

/// <summary>
/// Units per account: what proposed and active contracts hold (ordered) and what is provisioned
/// now. Every draw is one conditional UPDATE, so concurrent requests on either provider can never
/// take an account past its limit: the row is created first (ON CONFLICT DO NOTHING), then
/// <c>WHERE ordered + @n &lt;= @limit</c> decides under the row lock. The owner of the <c>quotas</c>
/// table; a contract line's own draw is <see cref="ContractStore"/>'s.
/// </summary>
public static class Quotas
{
    /// <summary>The account's limits (a unit without an entry has limit 0).</summary>
    public static IReadOnlyDictionary<string, long> ParseLimits(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, long>>(json) ?? [];

    public static long LimitOf(IReadOnlyDictionary<string, long> limits, string unit) => limits.TryGetValue(unit, out var l) ? l : 0;

    /// <summary>Draws <paramref name="n"/> ordered units; a quota-exceeded error (and nothing drawn) when the limit would be passed.</summary>
    public static async Task<Error?> DrawOrderedAsync(Tx tx, string accountId, string unit, long n, long limit)
    {
        await EnsureRowAsync(tx, accountId, unit);
        var drawn = await tx.ExecuteAsync(
            "UPDATE quotas SET ordered = ordered + @N WHERE account_id = @AccountId AND unit = @Unit AND ordered + @N <= @Limit",
            new { N = n, AccountId = accountId, Unit = unit, Limit = limit });
        var ordered = await tx.ExecuteScalarAsync<long>(
            "SELECT ordered FROM quotas WHERE account_id = @AccountId AND unit = @Unit", new { AccountId = accountId, Unit = unit });
        if (drawn == 0)
        {
            return Exceeded(unit, limit, ordered, n);
        }
        // The limit was read before the row lock: a lower limit committed meanwhile wins.
        var now = LimitOf(ParseLimits(await Accounts.AccountStore.LimitsAsync(tx, accountId) ?? "{}"), unit);
        return ordered <= now ? null : Exceeded(unit, now, ordered - n, n);
    }

    /// <summary>
    /// Locks every quota row of the account (creating those of <paramref name="units"/>) for a change
    /// of its limits, so that a draw either commits before the new limits are checked against what the
    /// account holds, or sees the new limits after its own draw (<see cref="DrawOrderedAsync"/>).
    /// </summary>
    public static async Task LockAccountAsync(Tx tx, string accountId, IEnumerable<string> units)
    {
        foreach (var unit in units)
        {
            await EnsureRowAsync(tx, accountId, unit);
        }
        await tx.ExecuteAsync("UPDATE quotas SET ordered = ordered WHERE account_id = @AccountId", new { AccountId = accountId });
    }

    /// <summary>Returns ordered units (expiry, rejection, amendment down, termination).</summary>
    public static Task ReturnOrderedAsync(Tx tx, string accountId, string unit, long n) =>
        tx.ExecuteAsync(
            "UPDATE quotas SET ordered = CASE WHEN ordered >= @N THEN ordered - @N ELSE 0 END WHERE account_id = @AccountId AND unit = @Unit",
            new { N = n, AccountId = accountId, Unit = unit });

    /// <summary>Returns every ordered unit a contract's lines hold (from contract_items).</summary>
    public static async Task<IReadOnlyDictionary<string, long>> ReturnContractAsync(Tx tx, string accountId, string contractId)
    {
        var held = await ContractStore.UnitsHeldAsync(tx, contractId);
        foreach (var h in held)
        {
            await ReturnOrderedAsync(tx, accountId, h.Unit, h.Total);
        }
        return held.ToDictionary(h => h.Unit, h => h.Total, StringComparer.Ordinal);
    }

    /// <summary>
    /// Provisioning (machines, storage increments) draws <paramref name="n"/> units from a line of
    /// an active contract (provisioned ≤ quantity, else 409 contract-exhausted) and from the account
    /// (provisioned ≤ its limit for the unit, else 409 quota-exceeded), each with one conditional
    /// UPDATE so concurrent requests can never pass either bound. Nothing is drawn on an error.
    /// </summary>
    /// <param name="what">What a unit of the line is, for the message ("machines", "increments").</param>
    public static async Task<Error?> DrawProvisionedAsync(Tx tx, string accountId, string contractId, int item, string unit, long n, string what = "units")
    {
        if (!await ContractStore.DrawLineAsync(tx, contractId, item, n))
        {
            var line = await ContractStore.LineUseAsync(tx, contractId, item);
            return line is null
                ? Error.NotFound("Contract item", $"{contractId}/{item}")
                : new Error("contract-exhausted", ErrorKind.QuotaExceeded, string.Create(CultureInfo.InvariantCulture,
                    $"Line {item} of contract '{contractId}' holds {line.Quantity} {what} and {line.Provisioned} are provisioned; {n} more do not fit."));
        }
        var limits = JsonSerializer.Deserialize<Dictionary<string, long>>(await Accounts.AccountStore.LimitsAsync(tx, accountId) ?? "{}") ?? [];
        var limit = limits.GetValueOrDefault(unit);
        await EnsureRowAsync(tx, accountId, unit);
        var account = await tx.ExecuteAsync(
            "UPDATE quotas SET provisioned = provisioned + @N WHERE account_id = @AccountId AND unit = @Unit AND provisioned + @N <= @Limit",
            new { N = n, AccountId = accountId, Unit = unit, Limit = limit });
        var provisioned = await tx.ExecuteScalarAsync<long>(
            "SELECT provisioned FROM quotas WHERE account_id = @AccountId AND unit = @Unit", new { AccountId = accountId, Unit = unit });
        if (account == 1)
        {
            // The limit was read before the row lock: a lower limit committed meanwhile wins.
            var now = LimitOf(ParseLimits(await Accounts.AccountStore.LimitsAsync(tx, accountId) ?? "{}"), unit);
            if (provisioned <= now)
            {
                return null;
            }
            (limit, provisioned) = (now, provisioned - n);
        }
        // The line was drawn above; the caller's transaction rolls back with this error.
        return new Error("quota-exceeded", ErrorKind.QuotaExceeded, string.Create(CultureInfo.InvariantCulture,
            $"Limit of {unit} exceeded: limit {limit}, provisioned {provisioned}, requested {n}."));
    }

    /// <summary>Returns provisioned units to the line and the account (never below zero).</summary>
    public static async Task ReturnProvisionedAsync(Tx tx, string accountId, string contractId, int item, string unit, long n)
    {
        await ContractStore.ReturnLineAsync(tx, contractId, item, n);
        await tx.ExecuteAsync(
            "UPDATE quotas SET provisioned = CASE WHEN provisioned >= @N THEN provisioned - @N ELSE 0 END WHERE account_id = @AccountId AND unit = @Unit",
            new { N = n, AccountId = accountId, Unit = unit });
    }

    public static Error Exceeded(string unit, long limit, long ordered, long requested) =>
        new("quota-exceeded", ErrorKind.QuotaExceeded, string.Create(CultureInfo.InvariantCulture,
            $"Limit of {unit} exceeded: limit {limit}, ordered {ordered}, requested {requested}."));

    private static Task EnsureRowAsync(Tx tx, string accountId, string unit) =>
        tx.ExecuteAsync(
            "INSERT INTO quotas (account_id, unit, ordered, provisioned) VALUES (@AccountId, @Unit, 0, 0) ON CONFLICT (account_id, unit) DO NOTHING",
            new { AccountId = accountId, Unit = unit });

    /// <summary>What the account holds per unit (ordered and provisioned), by unit.</summary>
    public static async Task<IReadOnlyList<QuotaRow>> OfAccountAsync(Tx tx, string accountId) =>
        (await tx.QueryAsync<QuotaRow>(
            "SELECT unit AS Unit, ordered AS Ordered, provisioned AS Provisioned FROM quotas WHERE account_id = @Id ORDER BY unit", new { Id = accountId })).ToList();

    public sealed record QuotaRow(string Unit, long Ordered, long Provisioned);
}
