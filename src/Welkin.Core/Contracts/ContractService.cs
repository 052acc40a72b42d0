using System.Globalization;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Contracts;

/// <summary>The query of <c>GET /api/v1/contracts</c>: filters and the page.</summary>
public sealed record ContractListQuery(string? State = null, string? AccountId = null, string? After = null, int Limit = 100);

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
public sealed class ContractService(IDatabase db, AuditLog audit, EventLog events, JobQueue jobs, ContractOptions options, TimeProvider clock)
{
    public const int MaxItems = 20;
    public const int MaxQuantity = 10_000;
    public const int MaxTermMonths = 120;
    public const string TerminateAction = "contract.terminate";

    private static readonly string Proposed = ContractStore.Proposed;
    private static readonly string Active = ContractStore.Active;
    private static readonly string Expired = ContractStore.Expired;
    private static readonly string Rejected = ContractStore.Rejected;
    private static readonly string Terminating = ContractStore.Terminating;
    private static readonly string Terminated = ContractStore.Terminated;

    private static readonly string PublishedOffering = WireNames.Of(OfferingState.Published);

    public Task<Result<ContractView>> RequestAsync(Caller caller, ContractRequest request, CancellationToken ct) =>
        RequestAsync(caller, request, null, ct);

    /// <summary>Requests a contract; <paramref name="once"/> records the answer under the request's Idempotency-Key in the same transaction.</summary>
    public async Task<Result<ContractView>> RequestAsync(Caller caller, ContractRequest request, IdempotentWrite<ContractView>? once, CancellationToken ct)
    {
        if (Tenancy.RequireTenant(caller, Permission.ContractsRequest, "Requesting a contract") is { } denied)
        {
            return denied;
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
        var accountId = caller.AccountId!;
        return await db.WriteAsync<ContractView>(async tx =>
        {
            var opened = await OpenInTxAsync(tx, caller, accountId, request, active: false);
            if (!opened.IsSuccess)
            {
                return opened.Error!;
            }
            var view = opened.Value;
            return once is not null && await once.RecordAsync(tx, view) is { } taken ? taken : view;
        }, ct);
    }

    /// <summary>
    /// Records a contract for <paramref name="accountId"/> in <paramref name="tx"/>: proposed, or with
    /// <paramref name="active"/> active at once, as a federation agreement opens one (the agreement is the
    /// consumer's acceptance). The request is validated by the caller.
    /// </summary>
    internal async Task<Result<ContractView>> OpenInTxAsync(Tx tx, Caller caller, string accountId, ContractRequest request, bool active)
    {
        var account = await AccountStore.GetAsync(tx, accountId);
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
        var row = new ContractRow(Ids.New(Ids.Contract, clock), accountId, request.Name, active ? Active : Proposed, 1, ContractStore.Serialize(lines), term,
            request.Constraints is null ? null : JsonSerializer.Serialize(request.Constraints, WelkinJson.Client), caller.PrincipalId,
            active ? null : (now + options.ProposalTtl).ToUnixTimeMilliseconds(), active ? ms : null,
            active ? now.AddMonths(term).ToUnixTimeMilliseconds() : null, null, 1, ms, ms);
        await ContractStore.InsertAsync(tx, row);
        foreach (var line in lines)
        {
            await ContractStore.InsertItemAsync(tx, row.Id, line);
        }
        await ContractStore.InsertRevisionAsync(tx, row.Id, 1, lines, term, caller.PrincipalId, "proposal", ms);
        await audit.AppendAsync(tx, caller, new AuditEvent("contract.request", row.Id, AuditEvent.Success, accountId, Describe(lines, term)));
        await events.AppendAsync(tx, caller, new LifecycleEvent("contract.proposed", row.Id, accountId, EventData(row.Id, lines, term)));
        if (active)
        {
            await audit.AppendAsync(tx, caller, new AuditEvent("contract.accept", row.Id, AuditEvent.Success, accountId, Describe(lines, term)));
            await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.ContractActivated, row.Id, accountId, EventData(row.Id, lines, term)));
        }
        return ToView(row, lines.Select(l => new ContractItemUsage(l.Item, l.Quantity, 0)).ToList());
    }

    public async Task<Result<ContractView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (CheckRead(caller, id) is { } refused)
        {
            return refused;
        }
        return await db.ReadAsync<Result<ContractView>>(async tx =>
        {
            var row = await ContractStore.GetAsync(tx, id);
            if (row is null || !Tenancy.Sees(caller, row.AccountId))
            {
                return Error.NotFound("Contract", id);
            }
            return ToView(row, await ContractStore.UsageAsync(tx, id));
        }, ct);
    }

    /// <summary>Contracts of the caller's account (provider roles: of any account, or all), oldest first.</summary>
    public async Task<Result<Page<ContractView>>> ListAsync(Caller caller, ContractListQuery query, CancellationToken ct)
    {
        var scope = Tenancy.Scope(caller, Permission.ResourcesRead, query.AccountId, "Listing contracts");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if (Filters.Page<ContractState>(query.After, Ids.Contract, "contract", query.State) is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(query.Limit);
        return await db.ReadAsync<Result<Page<ContractView>>>(async tx =>
        {
            var rows = await ContractStore.ListAsync(tx, scope.Value, query.State, query.After ?? "", paging.Take);
            var page = paging.Rows(rows);
            var usage = page.Count == 0
                ? Array.Empty<ContractItemUsage>().ToLookup(_ => "")
                : await ContractStore.UsageAsync(tx, page[0].Id, page[^1].Id);
            return paging.Page(rows, r => ToView(r, usage[r.Id].ToList()), v => v.Id);
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
            if (!await ContractStore.UpdateAsync(tx, row, accepted))
            {
                return Error.Concurrency("Contract", id);
            }
            var lines = row.Lines;
            await audit.AppendAsync(tx, caller, new AuditEvent("contract.accept", id, AuditEvent.Success, row.AccountId, Describe(lines, (int)row.TermMonths)));
            await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.ContractActivated, id, row.AccountId, EventData(id, lines, (int)row.TermMonths)));
            return (ToView(accepted, await ContractStore.UsageAsync(tx, id)), null);
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
            return rejected is null ? Error.Concurrency("Contract", id) : ToView(rejected, await ContractStore.UsageAsync(tx, id));
        }, ct);
    }

    /// <summary>Expires proposals past their time (the sweeper's work); returns how many it expired.</summary>
    public async Task<int> ExpireDueAsync(Caller caller, CancellationToken ct)
    {
        var count = 0;
        while (true)
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var due = await ContractStore.DueProposalsAsync(db, now, ct);
            if (due.Count == 0)
            {
                return count;
            }
            foreach (var row in due)
            {
                var expired = await db.WriteAsync<bool>(async tx => await ExpireAsync(tx, caller, row), ct);
                count += expired.IsSuccess && expired.Value ? 1 : 0;
            }
            if (due.Count < ContractStore.DueProposalsPage)
            {
                return count;
            }
        }
    }

    /// <summary>
    /// Update Contract (Table 1): new quantities for lines (named by offering), new lines, a new
    /// term or name. Raising draws units against the limits; lowering returns them, never below
    /// what a line has provisioned. Each amendment is a new revision with the full lines.
    /// </summary>
    public async Task<Result<ContractView>> AmendAsync(Caller caller, string id, ContractAmendmentRequest request, CancellationToken ct)
    {
        if (CheckWrite(caller, id, "Amending a contract") is { } denied)
        {
            return denied;
        }
        if (ValidateAmendment(request) is { } invalid)
        {
            return invalid;
        }
        return await db.WriteAsync<ContractView>(tx => AmendInTxAsync(tx, caller, id, request), ct);
    }

    /// <summary>Amends a contract in <paramref name="tx"/> (a federation agreement's amendment changes its contract with its limits).</summary>
    internal async Task<Result<ContractView>> AmendInTxAsync(Tx tx, Caller caller, string id, ContractAmendmentRequest request)
    {
        var loaded = await LoadAmendableAsync(tx, caller, id, request.Version);
        if (!loaded.IsSuccess)
        {
            return loaded.Error!;
        }
        var (row, account) = loaded.Value;
        var revised = await ReviseLinesAsync(tx, row, request);
        if (!revised.IsSuccess)
        {
            return revised.Error!;
        }
        var (before, lines, added, term) = revised.Value;
        if (await ApplyLinesAsync(tx, id, before, lines, added) is { } refused)
        {
            return refused;
        }
        if (await RedrawUnitsAsync(tx, row.AccountId, Quotas.ParseLimits(account.Limits), before, lines) is { } exceeded)
        {
            return exceeded;
        }
        return await RecordAmendmentAsync(tx, caller, row, lines, term, request);
    }

    private static Error? ValidateAmendment(ContractAmendmentRequest request)
    {
        var v = new Validator();
        v.Require(request.Items is null || request.Items.Count <= MaxItems, "items", $"items must hold at most {MaxItems} lines");
        ValidateLines(v, request.Items ?? [], "items");
        v.Require(request.Name is null || request.Name.Length is > 0 and <= 200, "name", "name must be 1-200 characters");
        v.Require(request.TermMonths is null or (>= 1 and <= MaxTermMonths), "termMonths", $"termMonths must be between 1 and {MaxTermMonths}");
        v.Require(request.Reason is null || request.Reason.Length <= 500, "reason", "reason must be at most 500 characters");
        v.Require(request.Items is { Count: > 0 } || request.TermMonths is not null || request.Name is not null, "items", "an amendment changes items, termMonths or name");
        return v.ToError();
    }

    /// <summary>The active contract to amend and its account, which must be active too.</summary>
    private static async Task<Result<(ContractRow Row, AccountRow Account)>> LoadAmendableAsync(Tx tx, Caller caller, string id, long? version)
    {
        var loaded = await LoadForWriteAsync(tx, caller, id, version);
        if (!loaded.IsSuccess)
        {
            return loaded.Error!;
        }
        var row = loaded.Value;
        if (row.State != Active)
        {
            return Error.InvalidState($"Contract '{id}' is {row.State}; only an active contract can be amended.");
        }
        var account = await AccountStore.GetAsync(tx, row.AccountId);
        if (account is null || account.State != "active")
        {
            return Error.InvalidState($"Account '{row.AccountId}' is {account?.State ?? "gone"}.");
        }
        return (row, account);
    }

    /// <summary>
    /// The lines after the amendment (changed quantities, new lines proposed from the catalog) and
    /// its term, checked against the limits of a contract; nothing is written.
    /// </summary>
    private static async Task<Result<(List<ContractItem> Before, List<ContractItem> Lines, List<ContractItem> Added, int Term)>> ReviseLinesAsync(
        Tx tx, ContractRow row, ContractAmendmentRequest request)
    {
        var before = row.Lines;
        var lines = before.ToList();
        var constraints = row.Constraints is null ? null : JsonSerializer.Deserialize<PlacementConstraints>(row.Constraints, WelkinJson.Client);
        var added = new List<ContractItem>();
        for (var i = 0; i < (request.Items?.Count ?? 0); i++)
        {
            var change = request.Items![i];
            var at = $"items[{i}]";
            var index = lines.FindIndex(l => l.OfferingId == change.OfferingId);
            if (index < 0)
            {
                var line = await ProposeLineAsync(tx, lines.Count, change, constraints, at);
                if (!line.IsSuccess)
                {
                    return line.Error!;
                }
                lines.Add(line.Value);
                added.Add(line.Value);
                continue;
            }
            var current = lines[index];
            if (current.Storage is { } storage && (long)change.Quantity * storage.IncrementGiB > storage.MaxGiB)
            {
                return Error.Validation(at + ".quantity",
                    $"{at}.quantity: {change.Quantity} increments of {storage.IncrementGiB} GiB pass the offering's maximum of {storage.MaxGiB} GiB");
            }
            lines[index] = current with { Quantity = change.Quantity, Units = change.Quantity };
        }
        if (lines.Count > MaxItems)
        {
            return Error.Validation("items", $"a contract holds at most {MaxItems} lines");
        }
        var term = request.TermMonths ?? (int)row.TermMonths;
        var minimum = lines.Max(l => l.Terms.MinimumPeriodMonths);
        if (term < minimum)
        {
            return Error.Validation("termMonths", $"termMonths must be at least {minimum}, the longest minimum period of the offerings");
        }
        return (before, lines, added, term);
    }

    /// <summary>Writes the lines' new quantities and the new lines; an error when a quantity would drop below what its line has provisioned.</summary>
    private static async Task<Error?> ApplyLinesAsync(Tx tx, string id, List<ContractItem> before, List<ContractItem> lines, List<ContractItem> added)
    {
        // Lines going down first: the conditional update refuses to drop below what is provisioned,
        // even when a provisioning commits between our read and this write.
        foreach (var line in lines.Where(l => before.Any(b => b.Item == l.Item && b.Quantity != l.Quantity)))
        {
            if (!await ContractStore.SetQuantityAsync(tx, id, line.Item, line.Quantity))
            {
                var provisioned = await ContractStore.ProvisionedAsync(tx, id, line.Item);
                return Error.InvalidState($"Line {line.Item} ({line.OfferingName}) has {provisioned} provisioned; its quantity cannot go below that.");
            }
        }
        foreach (var line in added)
        {
            await ContractStore.InsertItemAsync(tx, id, line);
        }
        return null;
    }

    /// <summary>Draws the units a unit's lines gained against the account's limit and returns those they lost.</summary>
    private static async Task<Error?> RedrawUnitsAsync(
        Tx tx, string accountId, IReadOnlyDictionary<string, long> limits, List<ContractItem> before, List<ContractItem> lines)
    {
        var oldUnits = UnitsOf(before).ToDictionary(u => u.Unit, u => u.Units, StringComparer.Ordinal);
        foreach (var (unit, units) in UnitsOf(lines))
        {
            var delta = units - oldUnits.GetValueOrDefault(unit);
            if (delta > 0 && await Quotas.DrawOrderedAsync(tx, accountId, unit, delta, Quotas.LimitOf(limits, unit)) is { } exceeded)
            {
                return exceeded;
            }
            if (delta < 0)
            {
                await Quotas.ReturnOrderedAsync(tx, accountId, unit, -delta);
            }
        }
        return null;
    }

    /// <summary>The amended contract row, its revision, audit entry and <c>contract.amended</c> event.</summary>
    private async Task<Result<ContractView>> RecordAmendmentAsync(
        Tx tx, Caller caller, ContractRow row, List<ContractItem> lines, int term, ContractAmendmentRequest request)
    {
        var id = row.Id;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var amended = row with
        {
            Name = request.Name ?? row.Name,
            Revision = row.Revision + 1,
            Items = ContractStore.Serialize(lines),
            TermMonths = term,
            TermEndsAt = row.AcceptedAt is { } accepted ? DbTime.FromDb(accepted).AddMonths(term).ToUnixTimeMilliseconds() : row.TermEndsAt,
            Version = row.Version + 1,
            UpdatedAt = now,
        };
        if (!await ContractStore.UpdateAsync(tx, row, amended))
        {
            return Error.Concurrency("Contract", id);
        }
        await ContractStore.InsertRevisionAsync(tx, id, amended.Revision, lines, term, caller.PrincipalId, request.Reason, now);
        await audit.AppendAsync(tx, caller, new AuditEvent("contract.amend", id, AuditEvent.Success, row.AccountId,
            $"revision={amended.Revision}; " + Describe(lines, term) + (request.Reason is null ? "" : $"; reason={Clip(request.Reason)}")));
        var data = EventData(id, lines, term);
        data["revision"] = amended.Revision.ToString(CultureInfo.InvariantCulture);
        await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.ContractAmended, id, row.AccountId, data));
        return ToView(amended, await ContractStore.UsageAsync(tx, id));
    }

    /// <summary>The readable history: every revision with its full lines, who changed it and why.</summary>
    public async Task<Result<IReadOnlyList<ContractRevisionView>>> RevisionsAsync(Caller caller, string id, CancellationToken ct)
    {
        if (CheckRead(caller, id) is { } refused)
        {
            return refused;
        }
        return await db.ReadAsync<Result<IReadOnlyList<ContractRevisionView>>>(async tx =>
        {
            var row = await ContractStore.GetAsync(tx, id);
            if (row is null || !Tenancy.Sees(caller, row.AccountId))
            {
                return Error.NotFound("Contract", id);
            }
            return await ContractStore.RevisionsAsync(tx, id);
        }, ct);
    }

    /// <summary>
    /// Terminate Contract (Table 1): an active contract becomes terminating and a
    /// <c>contract.terminate</c> job releases its resources; a proposal is simply declined
    /// (its job is finished at once).
    /// </summary>
    public async Task<Result<AcceptedView<ContractView>>> TerminateAsync(Caller caller, string id, ContractTransitionRequest request, CancellationToken ct)
    {
        if (CheckWrite(caller, id, "Terminating a contract") is { } denied)
        {
            return denied;
        }
        var result = await db.WriteAsync<AcceptedView<ContractView>>(async tx =>
        {
            var loaded = await LoadForWriteAsync(tx, caller, id, request.Version);
            if (!loaded.IsSuccess)
            {
                return loaded.Error!;
            }
            var row = loaded.Value;
            if (row.State != Proposed && row.State != Active)
            {
                return Error.InvalidState($"Contract '{id}' is {row.State}; only a proposed or active contract can be terminated.");
            }
            var begun = await BeginTerminationAsync(tx, caller, row, request.Reason, null);
            if (begun is null)
            {
                return Error.Concurrency("Contract", id);
            }
            return new AcceptedView<ContractView>(begun.Value.Job, ToView(begun.Value.Row, await ContractStore.UsageAsync(tx, id)));
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    /// <summary>What an account's limits allow and its contracts hold, per unit.</summary>
    public async Task<Result<IReadOnlyList<QuotaView>>> QuotasAsync(Caller caller, string accountId, CancellationToken ct)
    {
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading quotas") is { } denied)
        {
            return denied;
        }
        return await db.ReadAsync<Result<IReadOnlyList<QuotaView>>>(async tx =>
        {
            var account = await AccountStore.GetAsync(tx, accountId);
            if (account is null || !Tenancy.Sees(caller, accountId))
            {
                return Error.NotFound("Account", accountId);
            }
            var limits = Quotas.ParseLimits(account.Limits);
            var held = (await Quotas.OfAccountAsync(tx, accountId)).ToDictionary(q => q.Unit, StringComparer.Ordinal);
            return limits.Keys.Union(held.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal)
                .Select(u => new QuotaView(u, Quotas.LimitOf(limits, u), held.GetValueOrDefault(u)?.Ordered ?? 0, held.GetValueOrDefault(u)?.Provisioned ?? 0))
                .ToList();
        }, ct);
    }

    /// <summary>
    /// Proposed: declined now, with a job finished at once. Active: terminating, with a queued
    /// <c>contract.terminate</c> job. Null when the row changed under us.
    /// </summary>
    internal async Task<(ContractRow Row, JobView Job)?> BeginTerminationAsync(Tx tx, Caller caller, ContractRow row, string? reason, string? parentJobId)
    {
        var job = await jobs.EnqueueAsync(tx, caller, row.AccountId, TerminateAction, row.Id, new { contractId = row.Id, reason }, parentJobId);
        if (row.State == Proposed)
        {
            var rejected = await RejectInTxAsync(tx, caller, row, reason);
            if (rejected is null)
            {
                return null;
            }
            await jobs.SucceedAsync(tx, job.Id, new { contractId = row.Id, state = Rejected }, "proposal declined");
            return (rejected, job with { State = JobState.Succeeded, Progress = 100, StatusMessage = "proposal declined", Finished = clock.GetUtcNow() });
        }
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var terminating = row with { State = Terminating, Version = row.Version + 1, UpdatedAt = now };
        if (!await ContractStore.UpdateAsync(tx, row, terminating))
        {
            return null;
        }
        await audit.AppendAsync(tx, caller, new AuditEvent("contract.terminate", row.Id, AuditEvent.Success, row.AccountId,
            $"job={job.Id}" + (reason is null ? "" : $"; reason={Clip(reason)}")));
        return (terminating, job);
    }

    /// <summary>The end of a termination, once every resource is released: terminated, units returned. False when already done.</summary>
    internal async Task<bool> CompleteTerminationAsync(Tx tx, Caller caller, string id)
    {
        var row = await ContractStore.GetAsync(tx, id);
        if (row is null || row.State != Terminating)
        {
            return false;
        }
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var terminated = row with { State = Terminated, TerminatedAt = now, Version = row.Version + 1, UpdatedAt = now };
        if (!await ContractStore.UpdateAsync(tx, row, terminated))
        {
            return false;
        }
        var returned = await Quotas.ReturnContractAsync(tx, row.AccountId, id);
        await audit.AppendAsync(tx, caller, new AuditEvent("contract.terminated", id, AuditEvent.Success, row.AccountId, DescribeUnits(returned)));
        var data = new Dictionary<string, string>(StringComparer.Ordinal) { ["contractId"] = id };
        foreach (var (unit, units) in returned)
        {
            data[$"returned.{unit}"] = units.ToString(CultureInfo.InvariantCulture);
        }
        await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.ContractTerminated, id, row.AccountId, data));
        return true;
    }

    // ---- shared steps --------------------------------------------------------------------

    private async Task<bool> ExpireAsync(Tx tx, Caller caller, ContractRow row)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var expired = row with { State = Expired, Version = row.Version + 1, UpdatedAt = now };
        if (!await ContractStore.UpdateAsync(tx, row, expired))
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
        if (!await ContractStore.UpdateAsync(tx, row, rejected))
        {
            return null;
        }
        var returned = await Quotas.ReturnContractAsync(tx, row.AccountId, row.Id);
        await audit.AppendAsync(tx, caller, new AuditEvent("contract.reject", row.Id, AuditEvent.Success, row.AccountId,
            DescribeUnits(returned) + (reason is null ? "" : $"; reason={Clip(reason)}")));
        await events.AppendAsync(tx, caller, new LifecycleEvent("contract.rejected", row.Id, row.AccountId, new Dictionary<string, string> { ["contractId"] = row.Id }));
        return rejected;
    }

    private static async Task<Result<ContractItem>> ProposeLineAsync(Tx tx, int item, ContractItemRequest line, PlacementConstraints? wanted, string at)
    {
        var offering = await Catalog.OfferingService.FindAsync(tx, line.OfferingId);
        // A draft or withdrawn offering is not in the catalog: answered as a missing one.
        if (offering is null || offering.Value.State != PublishedOffering)
        {
            return Error.Validation(at + ".offeringId", $"{at}.offeringId: offering '{line.OfferingId}' is not in the catalog");
        }
        var spec = offering.Value.Spec;
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
        return new ContractItem(item, offering.Value.Id, spec.Name, spec.Kind, line.Quantity, spec.LimitUnit, line.Quantity, spec.PricePlan, spec.Sla, spec.Terms,
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

    private static Error? CheckRead(Caller caller, string id) =>
        Ids.IsValid(id, Ids.Contract) ? Tenancy.Require(caller, Permission.ResourcesRead, "Reading contracts") : Error.InvalidId(id, "contract");

    internal static Error? CheckWrite(Caller caller, string id, string what) =>
        Ids.IsValid(id, Ids.Contract) ? Tenancy.RequireTenant(caller, Permission.ContractsRequest, what) : Error.InvalidId(id, "contract");

    /// <summary>The contract for a change by <paramref name="caller"/>: another account's answers exactly as a missing one.</summary>
    internal static async Task<Result<ContractRow>> LoadForWriteAsync(Tx tx, Caller caller, string id, long? expectedVersion)
    {
        var row = await ContractStore.GetAsync(tx, id);
        if (row is null || !Tenancy.Sees(caller, row.AccountId))
        {
            return Error.NotFound("Contract", id);
        }
        if (expectedVersion is { } expected && expected != row.Version)
        {
            return Error.VersionMismatch("Contract", id, expected, row.Version);
        }
        return row;
    }

    internal static IEnumerable<(string Unit, long Units)> UnitsOf(IEnumerable<ContractItem> lines) =>
        lines.GroupBy(l => l.LimitUnit, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, g.Sum(l => l.Units)));

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
            // What the meter reads for unit-ordered-ms: the line's ordered quantity from this event on.
            data[$"quantity.{line.Item}"] = line.Quantity.ToString(CultureInfo.InvariantCulture);
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
        new(r.Id, r.AccountId, r.Name, WireNames.Parse<ContractState>(r.State), (int)r.Revision, r.Lines, usage, (int)r.TermMonths,
            r.Constraints is null ? null : JsonSerializer.Deserialize<PlacementConstraints>(r.Constraints, WelkinJson.Client),
            r.RequestedBy, DbTime.FromDb(r.ProposalExpiresAt), DbTime.FromDb(r.AcceptedAt), DbTime.FromDb(r.TermEndsAt), DbTime.FromDb(r.TerminatedAt),
            r.Version, DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.UpdatedAt));
}
