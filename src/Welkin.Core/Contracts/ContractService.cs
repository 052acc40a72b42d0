using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Contracts;

public sealed class ContractOptions
{
    /// <summary>How long a proposal can be accepted.</summary>
    public TimeSpan ProposalTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often proposals past their expiry are expired and their units returned.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Contracts (Table 1: "Establish Contract", "Update Contract", "Terminate Contract"). A request
/// for lines on published offerings is answered at once with a proposal that copies each
/// offering's commercial terms and holds the units against the account's limits; accepting it
/// makes the contract active, expiry or rejection returns the units.
/// </summary>
public sealed class ContractService(IDatabase db, AuditLog audit, EventLog events, ContractOptions options, TimeProvider clock)
{
    public const int MaxItems = 20;
    public const int MaxQuantity = 10_000;
    public const int MaxTermMonths = 120;
    public const string TerminateAction = "contract.terminate";

    internal const string Columns =
        "id AS Id, account_id AS AccountId, name AS Name, state AS State, revision AS Revision, items AS Items, term_months AS TermMonths, " +
        "constraints AS Constraints, requested_by AS RequestedBy, proposal_expires_at AS ProposalExpiresAt, accepted_at AS AcceptedAt, " +
        "term_ends_at AS TermEndsAt, terminated_at AS TerminatedAt, version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt";

    internal static readonly string Proposed = WireNames.Of(ContractState.Proposed);
    internal static readonly string Active = WireNames.Of(ContractState.Active);
    internal static readonly string Expired = WireNames.Of(ContractState.Expired);
    internal static readonly string Rejected = WireNames.Of(ContractState.Rejected);
    internal static readonly string Terminating = WireNames.Of(ContractState.Terminating);
    internal static readonly string Terminated = WireNames.Of(ContractState.Terminated);

    private static readonly string PublishedOffering = WireNames.Of(OfferingState.Published);

    public async Task<Result<ContractView>> RequestAsync(Caller caller, ContractRequest request, CancellationToken ct)
    {
        if (!caller.Can(Permission.ContractsRequest) || caller.AccountId is null)
        {
            return Error.Forbidden("Requesting a contract needs the contracts-request permission (engineer or account-admin of an account).");
        }
        var v = new Validator();
        v.Require(request.Items is { Count: > 0 and <= MaxItems }, "items", $"items must hold 1-{MaxItems} lines");
        ValidateLines(v, request.Items ?? [], "items");
        v.Require(request.Name is null || request.Name.Length is > 0 and <= 200, "name", "name must be 1-200 characters");
        v.Require(request.TermMonths is null or (>= 1 and <= MaxTermMonths), "termMonths", $"termMonths must be between 1 and {MaxTermMonths}");
        ValidateConstraints(v, request.Constraints, "constraints");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        var accountId = caller.AccountId;
        return await db.WriteAsync<ContractView>(async tx =>
        {
            var account = await LoadAccountAsync(tx, accountId);
            if (account is null)
            {
                return Error.NotFound("Account", accountId);
            }
            if (account.State != "active")
            {
                return Error.InvalidState($"Account '{accountId}' is {account.State}; contracts are made for active accounts.");
            }
            var lines = new List<ContractItem>();
            for (var i = 0; i < request.Items!.Count; i++)
            {
                var line = await ProposeLineAsync(tx, i, request.Items[i], request.Constraints, $"items[{i}]");
                if (!line.IsSuccess)
                {
                    return line.Error!;
                }
                lines.Add(line.Value);
            }
            var minimum = lines.Max(l => l.Terms.MinimumPeriodMonths);
            var term = request.TermMonths ?? Math.Max(1, minimum);
            if (term < minimum)
            {
                return Error.Validation("termMonths", $"termMonths must be at least {minimum}, the longest minimum period of the offerings");
            }
            var limits = Quotas.ParseLimits(account.Limits);
            foreach (var (unit, units) in UnitsOf(lines))
            {
                if (await Quotas.DrawOrderedAsync(tx, accountId, unit, units, Quotas.LimitOf(limits, unit)) is { } exceeded)
                {
                    return exceeded;
                }
            }
            var now = clock.GetUtcNow();
            var ms = now.ToUnixTimeMilliseconds();
            var row = new ContractRow(Ids.New(Ids.Contract, clock), accountId, request.Name, Proposed, 1, Serialize(lines), term,
                request.Constraints is null ? null : JsonSerializer.Serialize(request.Constraints, WelkinJson.Client), caller.PrincipalId,
                (now + options.ProposalTtl).ToUnixTimeMilliseconds(), null, null, null, 1, ms, ms);
            await tx.ExecuteAsync(
                """
                INSERT INTO contracts (id, account_id, name, state, revision, items, term_months, constraints, requested_by, proposal_expires_at, version, created_at, updated_at)
                VALUES (@Id, @AccountId, @Name, @State, @Revision, @Items, @TermMonths, @Constraints, @RequestedBy, @ProposalExpiresAt, @Version, @CreatedAt, @UpdatedAt)
                """, row);
            foreach (var line in lines)
            {
                await InsertItemAsync(tx, row.Id, line);
            }
            await InsertRevisionAsync(tx, row.Id, 1, lines, term, caller.PrincipalId, "proposal", ms);
            await audit.AppendAsync(tx, caller, new AuditEvent("contract.request", row.Id, AuditEvent.Success, accountId, Describe(lines, term)));
            await events.AppendAsync(tx, caller, new LifecycleEvent("contract.proposed", row.Id, accountId, EventData(row.Id, lines, term)));
            return ToView(row, lines.Select(l => new ContractItemUsage(l.Item, l.Quantity, 0)).ToList());
        }, ct);
    }

    public async Task<Result<ContractView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Contract))
        {
            return Error.InvalidId(id, "contract");
        }
        return await db.ReadAsync<Result<ContractView>>(async tx =>
        {
            var row = await LoadAsync(tx, id);
            if (row is null || !CanRead(caller, row.AccountId))
            {
                return Error.NotFound("Contract", id);
            }
            return ToView(row, await UsageAsync(tx, id));
        }, ct);
    }

    /// <summary>Contracts of the caller's account (provider roles: of any account, or all), oldest first.</summary>
    public async Task<Result<Page<ContractView>>> ListAsync(Caller caller, string? state, string? accountId, string? after, int limit, CancellationToken ct)
    {
        if (after is not null && !Ids.IsValid(after, Ids.Contract))
        {
            return Error.InvalidId(after, "contract");
        }
        if (state is not null && !WireNames.TryParse<ContractState>(state, out _))
        {
            return Error.Validation("state", $"state must be one of {string.Join(", ", Enum.GetValues<ContractState>().Select(WireNames.Of))}");
        }
        if (accountId is not null && !Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        string? scope;
        if (caller.IsProvider)
        {
            if (!caller.Can(Permission.AccountsReadAll) || !caller.Can(Permission.ResourcesRead))
            {
                return Error.Forbidden("Listing contracts needs the resources-read permission.");
            }
            scope = accountId;
        }
        else
        {
            if (!caller.Can(Permission.ResourcesRead))
            {
                return Error.Forbidden("Listing contracts needs the resources-read permission.");
            }
            if (accountId is not null && accountId != caller.AccountId)
            {
                return Error.NotFound("Account", accountId);
            }
            scope = caller.AccountId;
        }
        limit = Math.Clamp(limit, 1, 500);
        return await db.ReadAsync<Result<Page<ContractView>>>(async tx =>
        {
            var rows = (await tx.QueryAsync<ContractRow>(
                $"""
                SELECT {Columns} FROM contracts
                WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND (@State IS NULL OR state = @State)
                ORDER BY id LIMIT @Take
                """, new { After = after ?? "", Scope = scope, State = state, Take = limit + 1 })).ToList();
            var page = rows.Take(limit).ToList();
            var usage = page.Count == 0
                ? Array.Empty<ItemRow>().ToLookup(r => r.ContractId)
                : (await tx.QueryAsync<ItemRow>(
                    $"SELECT {ItemColumns} FROM contract_items WHERE contract_id >= @First AND contract_id <= @Last ORDER BY contract_id, item",
                    new { First = page[0].Id, Last = page[^1].Id })).ToLookup(r => r.ContractId);
            var items = page.Select(r => ToView(r, ToUsage(usage[r.Id]))).ToList();
            return new Page<ContractView>(items, items.Count, rows.Count > limit ? items[^1].Id : null);
        }, ct);
    }

    /// <summary>Accepts a proposal before it expires: the contract becomes active and its term starts.</summary>
    public async Task<Result<ContractView>> AcceptAsync(Caller caller, string id, ContractTransitionRequest request, CancellationToken ct)
    {
        if (CheckWrite(caller, id, "Accepting a contract") is { } denied)
        {
            return denied;
        }
        // An expired proposal is expired for good even though the caller gets an error, so the
        // outcome travels out of the transaction as a value and the error is raised after commit.
        var outcome = await db.WriteAsync<(ContractView? View, Error? Error)>(async tx =>
        {
            var loaded = await LoadForWriteAsync(tx, caller, id, request.Version);
            if (!loaded.IsSuccess)
            {
                return loaded.Error!;
            }
            var row = loaded.Value;
            if (row.State != Proposed)
            {
                return Error.InvalidState($"Contract '{id}' is {row.State}; only a proposed contract can be accepted.");
            }
            var now = clock.GetUtcNow();
            if (row.ProposalExpiresAt is { } expires && expires <= now.ToUnixTimeMilliseconds())
            {
                await ExpireAsync(tx, caller, row);
                return (null, new Error("proposal-expired", ErrorKind.Conflict,
                    $"The proposal of contract '{id}' expired at {DbTime.FromDb(expires):O}; request a new one."));
            }
            var accepted = row with
            {
                State = Active,
                AcceptedAt = now.ToUnixTimeMilliseconds(),
                TermEndsAt = now.AddMonths((int)row.TermMonths).ToUnixTimeMilliseconds(),
                ProposalExpiresAt = null,
                Version = row.Version + 1,
                UpdatedAt = now.ToUnixTimeMilliseconds(),
            };
            if (!await UpdateStateAsync(tx, row, accepted))
            {
                return Error.Concurrency("Contract", id);
            }
            var lines = Deserialize(row.Items);
            await audit.AppendAsync(tx, caller, new AuditEvent("contract.accept", id, AuditEvent.Success, row.AccountId, Describe(lines, (int)row.TermMonths)));
            await events.AppendAsync(tx, caller, new LifecycleEvent("contract.activated", id, row.AccountId, EventData(id, lines, (int)row.TermMonths)));
            return (ToView(accepted, await UsageAsync(tx, id)), null);
        }, ct);
        if (!outcome.IsSuccess)
        {
            return outcome.Error!;
        }
        return outcome.Value.Error is { } error ? error : outcome.Value.View!;
    }

    /// <summary>Declines a proposal; its units go back to the account.</summary>
    public async Task<Result<ContractView>> RejectAsync(Caller caller, string id, ContractTransitionRequest request, CancellationToken ct)
    {
        if (CheckWrite(caller, id, "Rejecting a contract") is { } denied)
        {
            return denied;
        }
        return await db.WriteAsync<ContractView>(async tx =>
        {
            var loaded = await LoadForWriteAsync(tx, caller, id, request.Version);
            if (!loaded.IsSuccess)
            {
                return loaded.Error!;
            }
            var row = loaded.Value;
            if (row.State != Proposed)
            {
                return Error.InvalidState($"Contract '{id}' is {row.State}; only a proposed contract can be rejected.");
            }
            var rejected = await RejectInTxAsync(tx, caller, row, request.Reason);
            return rejected is null ? Error.Concurrency("Contract", id) : ToView(rejected, await UsageAsync(tx, id));
        }, ct);
    }

    /// <summary>Expires proposals past their time (the sweeper's work); returns how many it expired.</summary>
    public async Task<int> ExpireDueAsync(Caller caller, CancellationToken ct)
    {
        var count = 0;
        while (true)
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var due = await db.QueryAsync<ContractRow>(
                $"SELECT {Columns} FROM contracts WHERE state = @Proposed AND proposal_expires_at <= @Now ORDER BY proposal_expires_at LIMIT 100",
                new { Proposed, Now = now }, ct);
            if (due.Count == 0)
            {
                return count;
            }
            foreach (var row in due)
            {
                var expired = await db.WriteAsync<bool>(async tx => await ExpireAsync(tx, caller, row), ct);
                count += expired.IsSuccess && expired.Value ? 1 : 0;
            }
            if (due.Count < 100)
            {
                return count;
            }
        }
    }

    // ---- shared steps --------------------------------------------------------------------

    private async Task<bool> ExpireAsync(Tx tx, Caller caller, ContractRow row)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var expired = row with { State = Expired, Version = row.Version + 1, UpdatedAt = now };
        if (!await UpdateStateAsync(tx, row, expired))
        {
            return false;
        }
        var returned = await Quotas.ReturnContractAsync(tx, row.AccountId, row.Id);
        await audit.AppendAsync(tx, caller, new AuditEvent("contract.expire", row.Id, AuditEvent.Success, row.AccountId, DescribeUnits(returned)));
        await events.AppendAsync(tx, caller, new LifecycleEvent("contract.expired", row.Id, row.AccountId, new Dictionary<string, string> { ["contractId"] = row.Id }));
        return true;
    }

    internal async Task<ContractRow?> RejectInTxAsync(Tx tx, Caller caller, ContractRow row, string? reason)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var rejected = row with { State = Rejected, ProposalExpiresAt = null, Version = row.Version + 1, UpdatedAt = now };
        if (!await UpdateStateAsync(tx, row, rejected))
        {
            return null;
        }
        var returned = await Quotas.ReturnContractAsync(tx, row.AccountId, row.Id);
        await audit.AppendAsync(tx, caller, new AuditEvent("contract.reject", row.Id, AuditEvent.Success, row.AccountId,
            DescribeUnits(returned) + (reason is null ? "" : $"; reason={Clip(reason)}")));
        await events.AppendAsync(tx, caller, new LifecycleEvent("contract.rejected", row.Id, row.AccountId, new Dictionary<string, string> { ["contractId"] = row.Id }));
        return rejected;
    }

    private async Task<Result<ContractItem>> ProposeLineAsync(Tx tx, int item, ContractItemRequest line, PlacementConstraints? wanted, string at)
    {
        var offering = await tx.QuerySingleOrDefaultAsync<OfferingRow>(
            "SELECT id AS Id, state AS State, spec AS Spec FROM offerings WHERE id = @Id", new { Id = line.OfferingId });
        // A draft or withdrawn offering is not in the catalog: answered as a missing one.
        if (offering is null || offering.State != PublishedOffering)
        {
            return Error.Validation(at + ".offeringId", $"{at}.offeringId: offering '{line.OfferingId}' is not in the catalog");
        }
        var spec = JsonSerializer.Deserialize<OfferingSpec>(offering.Spec, WelkinJson.Client)!;
        if (spec.Kind == OfferingKind.Storage && spec.Storage is { } storage && (long)line.Quantity * storage.IncrementGiB > storage.MaxGiB)
        {
            return Error.Validation(at + ".quantity",
                $"{at}.quantity: {line.Quantity} increments of {storage.IncrementGiB} GiB pass the offering's maximum of {storage.MaxGiB} GiB");
        }
        var constraints = spec.Constraints;
        if (wanted is not null)
        {
            if (!Narrows(wanted.Jurisdictions, spec.Constraints?.Jurisdictions) || !Narrows(wanted.Regions, spec.Constraints?.Regions))
            {
                return Error.Validation("constraints", $"constraints: offering '{line.OfferingId}' allows only {DescribeConstraints(spec.Constraints)}");
            }
            constraints = new PlacementConstraints(wanted.Jurisdictions ?? spec.Constraints?.Jurisdictions, wanted.Regions ?? spec.Constraints?.Regions);
        }
        return new ContractItem(item, offering.Id, spec.Name, spec.Kind, line.Quantity, spec.LimitUnit, line.Quantity, spec.PricePlan, spec.Sla, spec.Terms,
            spec.TemplateId, spec.TemplateVersion, spec.Choices, spec.Storage, constraints);
    }

    /// <summary>A consumer's constraint narrows the offering's: a subset of its values, or anything when the offering sets none.</summary>
    private static bool Narrows(IReadOnlyList<string>? wanted, IReadOnlyList<string>? allowed) =>
        wanted is null || allowed is null || wanted.All(w => allowed.Contains(w, StringComparer.Ordinal));

    internal static void ValidateLines(Validator v, IReadOnlyList<ContractItemRequest> lines, string at)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line is null)
            {
                v.Add($"{at}[{i}]", $"{at}[{i}] is required");
                continue;
            }
            if (!Ids.IsValid(line.OfferingId, Ids.Offering))
            {
                v.Add($"{at}[{i}].offeringId", $"{at}[{i}].offeringId must be an offering id");
            }
            else if (!seen.Add(line.OfferingId))
            {
                v.Add($"{at}[{i}].offeringId", $"{at}[{i}].offeringId: offering '{line.OfferingId}' appears twice; one line per offering");
            }
            v.Require(line.Quantity is >= 1 and <= MaxQuantity, $"{at}[{i}].quantity", $"{at}[{i}].quantity must be between 1 and {MaxQuantity}");
        }
    }

    private static void ValidateConstraints(Validator v, PlacementConstraints? c, string at)
    {
        if (c is null)
        {
            return;
        }
        v.Require(c.Jurisdictions is null || (c.Jurisdictions.Count is > 0 and <= 50 && c.Jurisdictions.All(j => j is { Length: > 0 and <= 63 })),
            at + ".jurisdictions", $"{at}.jurisdictions must hold 1-50 names");
        v.Require(c.Regions is null || (c.Regions.Count is > 0 and <= 50 && c.Regions.All(r => r is { Length: > 0 and <= 63 })),
            at + ".regions", $"{at}.regions must hold 1-50 names");
    }

    internal Error? CheckWrite(Caller caller, string id, string what)
    {
        if (!Ids.IsValid(id, Ids.Contract))
        {
            return Error.InvalidId(id, "contract");
        }
        return caller.Can(Permission.ContractsRequest) ? null : Error.Forbidden($"{what} needs the contracts-request permission.");
    }

    /// <summary>The contract for a change by <paramref name="caller"/>: another account's answers exactly as a missing one.</summary>
    internal static async Task<Result<ContractRow>> LoadForWriteAsync(Tx tx, Caller caller, string id, long? expectedVersion)
    {
        var row = await LoadAsync(tx, id);
        if (row is null || !caller.CanSeeAccount(row.AccountId))
        {
            return Error.NotFound("Contract", id);
        }
        if (expectedVersion is { } expected && expected != row.Version)
        {
            return Error.VersionMismatch("Contract", id, expected, row.Version);
        }
        return row;
    }

    internal static Task<ContractRow?> LoadAsync(Tx tx, string id) =>
        tx.QuerySingleOrDefaultAsync<ContractRow>($"SELECT {Columns} FROM contracts WHERE id = @Id", new { Id = id });

    internal static Task<AccountRow?> LoadAccountAsync(Tx tx, string accountId) =>
        tx.QuerySingleOrDefaultAsync<AccountRow>(
            "SELECT id AS Id, state AS State, limits AS Limits, version AS Version FROM accounts WHERE id = @Id", new { Id = accountId });

    internal static async Task<bool> UpdateStateAsync(Tx tx, ContractRow old, ContractRow updated) =>
        await tx.ExecuteAsync(
            """
            UPDATE contracts SET state = @State, name = @Name, revision = @Revision, items = @Items, term_months = @TermMonths,
                proposal_expires_at = @ProposalExpiresAt, accepted_at = @AcceptedAt, term_ends_at = @TermEndsAt, terminated_at = @TerminatedAt,
                version = @Version, updated_at = @UpdatedAt
            WHERE id = @Id AND version = @OldVersion
            """,
            new
            {
                updated.State, updated.Name, updated.Revision, updated.Items, updated.TermMonths, updated.ProposalExpiresAt, updated.AcceptedAt,
                updated.TermEndsAt, updated.TerminatedAt, updated.Version, updated.UpdatedAt, updated.Id, OldVersion = old.Version,
            }) == 1;

    internal static Task InsertItemAsync(Tx tx, string contractId, ContractItem line) =>
        tx.ExecuteAsync(
            """
            INSERT INTO contract_items (contract_id, item, offering_id, kind, limit_unit, quantity, provisioned)
            VALUES (@ContractId, @Item, @OfferingId, @Kind, @LimitUnit, @Quantity, 0)
            """,
            new { ContractId = contractId, line.Item, line.OfferingId, Kind = WireNames.Of(line.Kind), line.LimitUnit, line.Quantity });

    internal static Task InsertRevisionAsync(Tx tx, string contractId, long revision, IReadOnlyList<ContractItem> lines, long term, string changedBy, string? reason, long at) =>
        tx.ExecuteAsync(
            """
            INSERT INTO contract_revisions (contract_id, revision, items, term_months, changed_by, reason, created_at)
            VALUES (@ContractId, @Revision, @Items, @TermMonths, @ChangedBy, @Reason, @CreatedAt)
            """,
            new { ContractId = contractId, Revision = revision, Items = Serialize(lines), TermMonths = term, ChangedBy = changedBy, Reason = reason, CreatedAt = at });

    internal static async Task<IReadOnlyList<ContractItemUsage>> UsageAsync(Tx tx, string contractId) =>
        ToUsage(await tx.QueryAsync<ItemRow>($"SELECT {ItemColumns} FROM contract_items WHERE contract_id = @Id ORDER BY item", new { Id = contractId }));

    private const string ItemColumns = "contract_id AS ContractId, item AS Item, limit_unit AS LimitUnit, quantity AS Quantity, provisioned AS Provisioned";

    private static List<ContractItemUsage> ToUsage(IEnumerable<ItemRow> rows) =>
        rows.Select(r => new ContractItemUsage((int)r.Item, (int)r.Quantity, r.Provisioned)).ToList();

    internal static bool CanRead(Caller caller, string accountId) =>
        caller.Can(Permission.ResourcesRead) && (caller.IsProvider ? caller.Can(Permission.AccountsReadAll) : caller.AccountId == accountId);

    internal static IEnumerable<(string Unit, long Units)> UnitsOf(IEnumerable<ContractItem> lines) =>
        lines.GroupBy(l => l.LimitUnit, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, g.Sum(l => l.Units)));

    internal static string Serialize(IReadOnlyList<ContractItem> lines) => JsonSerializer.Serialize(lines, WelkinJson.Client);

    internal static List<ContractItem> Deserialize(string json) => JsonSerializer.Deserialize<List<ContractItem>>(json, WelkinJson.Client) ?? [];

    internal static Dictionary<string, string> EventData(string contractId, IReadOnlyList<ContractItem> lines, int term)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["contractId"] = contractId,
            ["termMonths"] = term.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var line in lines)
        {
            data[$"item.{line.Item}"] = string.Create(CultureInfo.InvariantCulture, $"{line.OfferingId} x{line.Quantity} {line.LimitUnit}");
        }
        return data;
    }

    internal static string Describe(IReadOnlyList<ContractItem> lines, int term) =>
        string.Join(", ", lines.Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.OfferingId} x{l.Quantity}"))) + $"; term={term}";

    internal static string DescribeUnits(IReadOnlyDictionary<string, long> units) =>
        units.Count == 0 ? "no units" : "returned " + string.Join(", ", units.OrderBy(u => u.Key, StringComparer.Ordinal).Select(u => $"{u.Key}={u.Value}"));

    private static string DescribeConstraints(PlacementConstraints? c) =>
        $"jurisdictions [{string.Join(", ", c?.Jurisdictions ?? [])}], regions [{string.Join(", ", c?.Regions ?? [])}]";

    internal static string Clip(string s) => s.Length <= 200 ? s : s[..200] + "…";

    internal static ContractView ToView(ContractRow r, IReadOnlyList<ContractItemUsage> usage) =>
        new(r.Id, r.AccountId, r.Name, WireNames.Parse<ContractState>(r.State), (int)r.Revision, Deserialize(r.Items), usage, (int)r.TermMonths,
            r.Constraints is null ? null : JsonSerializer.Deserialize<PlacementConstraints>(r.Constraints, WelkinJson.Client),
            r.RequestedBy, DbTime.FromDb(r.ProposalExpiresAt), DbTime.FromDb(r.AcceptedAt), DbTime.FromDb(r.TermEndsAt), DbTime.FromDb(r.TerminatedAt),
            r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));

    internal sealed record ContractRow(
        string Id, string AccountId, string? Name, string State, long Revision, string Items, long TermMonths, string? Constraints, string RequestedBy,
        long? ProposalExpiresAt, long? AcceptedAt, long? TermEndsAt, long? TerminatedAt, long Version, long CreatedAt, long UpdatedAt);

    internal sealed record AccountRow(string Id, string State, string Limits, long Version);

    private sealed record OfferingRow(string Id, string State, string Spec);

    private sealed record ItemRow(string ContractId, long Item, string LimitUnit, long Quantity, long Provisioned);
}
