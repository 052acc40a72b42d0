using System.Globalization;
using System.Text.Json;
using Dapper;
using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Metering;
using Welkin.Core.Security;
using Welkin.Core.Sla;

namespace Welkin.Core.Billing;

/// <summary>The query of <c>GET /api/v1/accounts/{id}/invoices</c>: the page.</summary>
public sealed record InvoiceListQuery(string? After = null, int Limit = 100);

public sealed class BillingOptions
{
    /// <summary>How often the invoicing work looks for ended periods and closed accounts to invoice.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long after a period ends its invoices are issued automatically: time for the last SLA
    /// evaluation and the meter to pass the period's end (<c>Billing:IssueDelay</c>).
    /// </summary>
    public TimeSpan IssueDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Invoices written per transaction when a whole period is invoiced at once.</summary>
    public int BatchSize { get; set; } = 200;

    /// <summary>Who sends the invoices (<c>Billing:Provider:Name</c>, <c>Billing:Provider:Address</c>).</summary>
    public BillingProvider Provider { get; set; } = new();

    /// <summary>Days from an invoice's issue date to its due date (<c>Billing:PaymentTermsDays</c>).</summary>
    public int PaymentTermsDays { get; set; } = 30;

    /// <summary>The start of every invoice number, "WK" in "WK-2026-000123" (<c>Billing:InvoicePrefix</c>): letters and digits.</summary>
    public string InvoicePrefix { get; set; } = "WK";

    public const int MaxPaymentTermsDays = 365;

    /// <summary>Why these options cannot serve, or null when they can.</summary>
    public string? Problem()
    {
        if (string.IsNullOrWhiteSpace(Provider.Name) || Provider.Name.Length > 200)
        {
            return "Billing:Provider:Name must be 1-200 characters";
        }
        if (PaymentTermsDays is < 0 or > MaxPaymentTermsDays)
        {
            return $"Billing:PaymentTermsDays must be between 0 and {MaxPaymentTermsDays}";
        }
        if (InvoicePrefix is not { Length: >= 1 and <= 10 } || !InvoicePrefix.All(char.IsAsciiLetterOrDigit))
        {
            return "Billing:InvoicePrefix must be 1-10 ASCII letters and digits";
        }
        return null;
    }
}

/// <summary>The provider as its invoices name it.</summary>
public sealed class BillingProvider
{
    public string Name { get; set; } = "Welkin";

    /// <summary>Postal address; lines separated by "\n".</summary>
    public string? Address { get; set; }
}

/// <summary>
/// Contract Billing (Table 1): invoices per account and billing period, rated from the metered
/// usage with the price plan version in effect at each slice's start, itemized by contract,
/// metric and rate, with the period's SLA credits. An issued invoice is one stored document and
/// never changes; a preview is the same computation, not stored.
/// </summary>
public sealed class InvoiceService(IDatabase db, AuditLog audit, EventLog events, IUsageMeter meter, BillingOptions options, TimeProvider clock)
{
    public const int MaxReasonLength = 500;

    private static readonly string Closed = WireNames.Of(AccountState.Closed);
    private static readonly string FinalKind = WireNames.Of(InvoiceKind.Final);

    // ---- price plan versions ------------------------------------------------------------

    /// <summary>Every price plan version of every line of the contract, version 1 (as contracted) first.</summary>
    public async Task<Result<IReadOnlyList<PricePlanVersionView>>> PricePlansAsync(Caller caller, string contractId, CancellationToken ct)
    {
        if (!Ids.IsValid(contractId, Ids.Contract))
        {
            return Error.InvalidId(contractId, "contract");
        }
        if (Tenancy.Require(caller, Permission.BillingRead, "Reading price plans") is { } denied)
        {
            return denied;
        }
        return await db.ReadAsync<Result<IReadOnlyList<PricePlanVersionView>>>(async tx =>
        {
            var contract = await ContractStore.GetAsync(tx, contractId);
            if (contract is null || !Tenancy.Sees(caller, contract.AccountId))
            {
                return Error.NotFound("Contract", contractId);
            }
            IReadOnlyList<PricePlanVersionView> views = await VersionViewsAsync(tx, contract);
            return (Result<IReadOnlyList<PricePlanVersionView>>)views.ToList();
        }, ct);
    }

    /// <summary>
    /// Adds a price plan version to one line, effective from a future instant or from the start of
    /// a billing period the account has no invoice for (nor for any later period), so no issued
    /// invoice could have used another price for that time.
    /// </summary>
    public async Task<Result<PricePlanVersionView>> AddPricePlanVersionAsync(Caller caller, string contractId, AddPricePlanVersionRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(contractId, Ids.Contract))
        {
            return Error.InvalidId(contractId, "contract");
        }
        if (Tenancy.Require(caller, Permission.BillingWrite, "Adding a price plan version") is { } denied)
        {
            return denied;
        }
        var v = new Validator();
        Catalog.OfferingRules.ValidatePricePlan(v, request.PricePlan, "pricePlan");
        v.Require(request.Reason is null || request.Reason.Length <= MaxReasonLength, "reason", $"reason must be at most {MaxReasonLength} characters");
        v.Require(request.Item >= 0, "item", "item must be a line number of the contract (0 or more)");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        var effective = request.EffectiveFrom.ToUniversalTime();
        return await db.WriteAsync<PricePlanVersionView>(async tx =>
        {
            var contract = await ContractStore.GetAsync(tx, contractId);
            if (contract is null || !Tenancy.Sees(caller, contract.AccountId))
            {
                return Error.NotFound("Contract", contractId);
            }
            var line = contract.Lines.FirstOrDefault(l => l.Item == request.Item);
            if (line is null)
            {
                return Error.Validation("item", $"item: contract '{contractId}' has no line {request.Item}");
            }
            if (contract.State is not ("proposed" or "active"))
            {
                return Error.InvalidState($"Contract '{contractId}' is {contract.State}; prices change only on proposed or active contracts.");
            }
            // Invoicing locks the account row too, so an invoice and a new version never cross.
            await AccountStore.LockAsync(tx, contract.AccountId);
            var now = clock.GetUtcNow();
            var ms = effective.ToUnixTimeMilliseconds();
            var period = BillingPeriod.Of(effective);
            var latestInvoiced = await tx.ExecuteScalarAsync<long?>(
                "SELECT MAX(period_start) FROM invoices WHERE account_id = @Id", new { Id = contract.AccountId });
            var periodStart = ms == period.StartMs;
            if (!(ms > now.ToUnixTimeMilliseconds() || periodStart))
            {
                return Error.Validation("effectiveFrom",
                    "effectiveFrom must be a future instant or the start of a billing period (the first of a month, 00:00 UTC) not yet invoiced");
            }
            if (latestInvoiced is { } invoiced && invoiced >= period.StartMs)
            {
                return new Error("period-invoiced", ErrorKind.Conflict,
                    $"Account '{contract.AccountId}' has an invoice for {BillingPeriod.Of(DateTimeOffset.FromUnixTimeMilliseconds(invoiced))}; "
                    + $"a price plan version can take effect from {BillingPeriod.Of(DateTimeOffset.FromUnixTimeMilliseconds(invoiced)).Start.AddMonths(1):yyyy-MM-dd} at the earliest.");
            }
            var next = await tx.ExecuteScalarAsync<long?>(
                "SELECT MAX(version) FROM price_plan_versions WHERE contract_id = @Id AND item = @Item", new { Id = contractId, request.Item }) ?? 1;
            var row = new VersionRow(contractId, request.Item, next + 1, ms, JsonSerializer.Serialize(request.PricePlan, WelkinJson.Client),
                request.Reason, caller.PrincipalId, now.ToUnixTimeMilliseconds());
            await tx.ExecuteAsync(
                """
                INSERT INTO price_plan_versions (contract_id, item, version, effective_from, plan, reason, created_by, created_at)
                VALUES (@ContractId, @Item, @Version, @EffectiveFrom, @Plan, @Reason, @CreatedBy, @CreatedAt)
                """, row);
            var detail = string.Create(CultureInfo.InvariantCulture, $"item={request.Item}; version={row.Version}; effectiveFrom={effective:O}")
                + (request.Reason is null ? "" : "; reason=" + Clip(request.Reason));
            await audit.AppendAsync(tx, caller, new AuditEvent("contract.price-plan.add", contractId, AuditEvent.Success, contract.AccountId, detail));
            await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.PricePlanVersionAdded, contractId, contract.AccountId,
                new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["contractId"] = contractId,
                    ["item"] = request.Item.ToString(CultureInfo.InvariantCulture),
                    ["version"] = row.Version.ToString(CultureInfo.InvariantCulture),
                    ["effectiveFrom"] = effective.ToString("O", CultureInfo.InvariantCulture),
                }));
            return ToView(row);
        }, ct);
    }

    // ---- invoices -------------------------------------------------------------------------

    /// <summary>What the invoice of <paramref name="periodText"/> (default: the current period) would hold now; nothing is stored.</summary>
    public async Task<Result<InvoiceView>> PreviewAsync(Caller caller, string accountId, string? periodText, CancellationToken ct)
    {
        if (CheckRead(caller, accountId) is { } refused)
        {
            return refused;
        }
        var now = clock.GetUtcNow();
        var parsed = periodText is null ? BillingPeriod.Of(now) : BillingPeriod.Parse(periodText, "period");
        if (!parsed.IsSuccess)
        {
            return parsed.Error!;
        }
        var period = parsed.Value;
        var account = await LoadAccountAsync(accountId, ct);
        if (account is null || !Tenancy.Sees(caller, accountId))
        {
            return Error.NotFound("Account", accountId);
        }
        var window = WindowFor(period, account, now);
        if (window is null)
        {
            return Error.InvalidState($"Account '{accountId}' was closed before {period}.");
        }
        await meter.CatchUpAsync(DateTimeOffset.FromUnixTimeMilliseconds(window.Value.End), ct);
        return await db.ReadAsync<Result<InvoiceView>>(async tx =>
        {
            var rated = await RateAccountAsync(tx, accountId, new RatingWindow(period, window.Value.End));
            return new InvoiceView(null, accountId, period.ToString(), window.Value.Kind, InvoiceState.Preview, period.Start,
                DateTimeOffset.FromUnixTimeMilliseconds(window.Value.PeriodEnd), DateTimeOffset.FromUnixTimeMilliseconds(window.Value.End),
                rated.Lines, rated.Totals, rated.PlanVersions, null, null, PaymentTermsDays: options.PaymentTermsDays, Provider: Provider,
                BillTo: await BillToAsync(tx, accountId), Contracts: rated.Contracts);
        }, ct);
    }

    /// <summary>
    /// Issues the invoice of an ended period (the final invoice, up to the closing, when the account
    /// closed in it): the meter is caught up to the period's end first, then rating and the stored
    /// invoice, its audit entry and event commit together. A second issue for the period is 409 invoice-exists.
    /// </summary>
    public async Task<Result<InvoiceView>> IssueAsync(Caller caller, string accountId, IssueInvoiceRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        if (Tenancy.Require(caller, Permission.BillingWrite, "Issuing invoices") is { } denied)
        {
            return denied;
        }
        var parsed = BillingPeriod.Parse(request.Period, "period");
        if (!parsed.IsSuccess)
        {
            return parsed.Error!;
        }
        return await IssueForAsync(caller, accountId, parsed.Value, ct);
    }

    private async Task<Result<InvoiceView>> IssueForAsync(Caller caller, string accountId, BillingPeriod period, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var account = await LoadAccountAsync(accountId, ct);
        if (account is null || !Tenancy.Sees(caller, accountId))
        {
            return Error.NotFound("Account", accountId);
        }
        var window = WindowFor(period, account, now);
        if (window is null)
        {
            return Error.InvalidState($"Account '{accountId}' was closed before {period}; it has no invoice for it.");
        }
        if (window.Value.Kind == InvoiceKind.Period && period.EndMs > now.ToUnixTimeMilliseconds())
        {
            return new Error("period-open", ErrorKind.Conflict, $"The billing period {period} ends at {period.End:O}; it is invoiced after it ends (preview it meanwhile).");
        }
        if (await InvoiceExistsAsync(accountId, period, ct) is { } existing)
        {
            return Exists(accountId, period, existing);
        }
        await meter.CatchUpAsync(DateTimeOffset.FromUnixTimeMilliseconds(window.Value.End), ct);
        return await db.WriteAsync<InvoiceView>(async tx =>
        {
            await AccountStore.LockAsync(tx, accountId);
            var id = await tx.QuerySingleOrDefaultAsync<string>(
                "SELECT id FROM invoices WHERE account_id = @Id AND period_start = @Start", new { Id = accountId, Start = period.StartMs });
            if (id is not null)
            {
                return Exists(accountId, period, id);
            }
            var rated = await RateAccountAsync(tx, accountId, new RatingWindow(period, window.Value.End));
            return await InsertAsync(tx, caller, accountId, period, window.Value, rated);
        }, ct);
    }

    public async Task<Result<Page<InvoiceSummaryView>>> ListAsync(Caller caller, string accountId, InvoiceListQuery query, CancellationToken ct)
    {
        if (CheckRead(caller, accountId) is { } refused)
        {
            return refused;
        }
        if (Filters.Id(query.After, Ids.Invoice, "invoice") is { } invalid)
        {
            return invalid;
        }
        if (await LoadAccountAsync(accountId, ct) is null || !Tenancy.Sees(caller, accountId))
        {
            return Error.NotFound("Account", accountId);
        }
        var paging = new Paging(query.Limit);
        var rows = await db.QueryAsync<SummaryRow>(
            """
            SELECT id AS Id, account_id AS AccountId, period AS Period, kind AS Kind, period_start AS PeriodStart, period_end AS PeriodEnd,
                   totals AS Totals, line_count AS LineCount, issued_by AS IssuedBy, issued_at AS IssuedAt, number AS Number
            FROM invoices WHERE account_id = @Id AND id > @After ORDER BY id LIMIT @Take
            """, new { Id = accountId, After = query.After ?? "", paging.Take }, ct);
        return paging.Page(rows, r => new InvoiceSummaryView(r.Id, r.AccountId, r.Period, WireNames.Parse<InvoiceKind>(r.Kind),
            DbTime.FromDb(r.PeriodStart), DbTime.FromDb(r.PeriodEnd), JsonSerializer.Deserialize<List<InvoiceTotalView>>(r.Totals, WelkinJson.Client) ?? [],
            (int)r.LineCount, r.IssuedBy, DbTime.FromDb(r.IssuedAt), r.Number), v => v.Id);
    }

    public async Task<Result<InvoiceView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Invoice))
        {
            return Error.InvalidId(id, "invoice");
        }
        if (Tenancy.Require(caller, Permission.BillingRead, "Reading invoices") is { } denied)
        {
            return denied;
        }
        var row = await db.QuerySingleOrDefaultAsync<DocumentRow>(
            "SELECT account_id AS AccountId, document AS Document FROM invoices WHERE id = @Id", new { Id = id }, ct);
        if (row is null || !Tenancy.Sees(caller, row.AccountId))
        {
            return Error.NotFound("Invoice", id);
        }
        return JsonSerializer.Deserialize<InvoiceView>(row.Document, WelkinJson.Client)!;
    }

    // ---- automatic invoicing ------------------------------------------------------------

    /// <summary>
    /// The invoicing work's tick: a final invoice for every closed account that has none, then
    /// the invoices of the period before <paramref name="now"/>'s for every account that had a
    /// contract in it. Idempotent: accounts already invoiced are skipped.
    /// </summary>
    public async Task<int> IssueDueAsync(DateTimeOffset now, CancellationToken ct)
    {
        var caller = Caller.System("invoicing");
        var issued = 0;
        var finals = (await db.QueryAsync<string>("SELECT account_id FROM invoices WHERE kind = @Final", new { Final = FinalKind }, ct))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var accountId in (await AccountStore.ClosedAsync(db, ct)).Where(a => !finals.Contains(a)))
        {
            if (await EventLog.LastAtAsync(db, EventLog.Types.AccountClosed, accountId, ct) is not { } closedAt)
            {
                continue;
            }
            var result = await IssueForAsync(caller, accountId, BillingPeriod.Of(DbTime.FromDb(closedAt)), ct);
            issued += result.IsSuccess ? 1 : 0;
        }
        // The period that ended at least IssueDelay ago.
        var period = BillingPeriod.Of(now - options.IssueDelay).Previous;
        // Accounts closed after the period ended still get its invoice, one by one (rare).
        var closed = (await AccountStore.ClosedAsync(db, ct)).ToHashSet(StringComparer.Ordinal);
        var invoiced = (await db.QueryAsync<string>("SELECT account_id FROM invoices WHERE period_start = @Start", new { Start = period.StartMs }, ct))
            .ToHashSet(StringComparer.Ordinal);
        var closedLater = (await ContractStore.AccountsActiveInAsync(db, period.StartMs, period.EndMs, ct))
            .Where(a => closed.Contains(a) && !invoiced.Contains(a)).Order(StringComparer.Ordinal);
        foreach (var accountId in closedLater)
        {
            var result = await IssueForAsync(caller, accountId, period, ct);
            issued += result.IsSuccess ? 1 : 0;
        }
        return issued + await IssuePeriodAsync(caller, period, ct);
    }

    /// <summary>
    /// Invoices one ended period for every active account that had a contract in it and has no
    /// invoice for it: one aggregate over the period's usage for all of them, then the invoices in
    /// batches of transactions. Returns how many it issued.
    /// </summary>
    public async Task<int> IssuePeriodAsync(Caller caller, BillingPeriod period, CancellationToken ct)
    {
        if (period.EndMs > clock.GetUtcNow().ToUnixTimeMilliseconds())
        {
            return 0;
        }
        await meter.CatchUpAsync(period.End, ct);
        var window = new InvoiceWindow(InvoiceKind.Period, period.EndMs, period.EndMs);
        var snapshot = await db.ReadAsync(async tx =>
        {
            var loaded = await LoadAsync(tx, null, new RatingWindow(period, period.EndMs));
            var invoiced = (await tx.QueryAsync<string>("SELECT account_id FROM invoices WHERE period_start = @Start", new { Start = period.StartMs }))
                .ToHashSet(StringComparer.Ordinal);
            var closedAccounts = await AccountStore.ClosedAsync(tx);
            return (loaded, invoiced, closedAccounts);
        }, ct);
        var due = snapshot.loaded.Accounts.Where(a => !snapshot.invoiced.Contains(a) && !snapshot.closedAccounts.Contains(a)).Order(StringComparer.Ordinal).ToList();
        var issued = 0;
        foreach (var batch in due.Chunk(Math.Max(1, options.BatchSize)))
        {
            var rated = batch.Select(a => (Account: a, Invoice: snapshot.loaded.Rate(a, new RatingWindow(period, period.EndMs)), Contracts: snapshot.loaded.ContractIds(a),
                Versions: snapshot.loaded.VersionCount(a))).ToList();
            var written = await db.WriteAsync<int>(async tx =>
            {
                var n = 0;
                foreach (var (accountId, invoice, contracts, versions) in rated)
                {
                    await AccountStore.LockAsync(tx, accountId);
                    if (await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM invoices WHERE account_id = @Id AND period_start = @Start",
                        new { Id = accountId, Start = period.StartMs }) > 0)
                    {
                        continue;
                    }
                    // A price plan version added since the aggregate was read: this account is rated again on its own below.
                    if (await CountVersionsAsync(tx, contracts) != versions)
                    {
                        continue;
                    }
                    await InsertAsync(tx, caller, accountId, period, window, invoice);
                    n++;
                }
                return n;
            }, ct);
            issued += written.IsSuccess ? written.Value : 0;
        }
        foreach (var accountId in due)
        {
            if (await InvoiceExistsAsync(accountId, period, ct) is null && (await IssueForAsync(caller, accountId, period, ct)).IsSuccess)
            {
                issued++;
            }
        }
        return issued;
    }

    // ---- rating inputs --------------------------------------------------------------------

    private readonly record struct InvoiceWindow(InvoiceKind Kind, long PeriodEnd, long End);

    /// <summary>What an invoice of <paramref name="period"/> covers for this account: the month, or up to the closing; null when closed before it.</summary>
    private static InvoiceWindow? WindowFor(BillingPeriod period, AccountInfo account, DateTimeOffset now)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        if (account.ClosedAt is { } closedAt)
        {
            if (closedAt < period.StartMs)
            {
                return null;
            }
            if (closedAt < period.EndMs)
            {
                return new InvoiceWindow(InvoiceKind.Final, closedAt, closedAt);
            }
        }
        return new InvoiceWindow(InvoiceKind.Period, period.EndMs, Math.Min(period.EndMs, Math.Max(nowMs, period.StartMs)));
    }

    private Task<RatedInvoice> RateAccountAsync(Tx tx, string accountId, RatingWindow window) => RateAsync(tx, accountId, window);

    /// <summary>The account's invoice of <paramref name="window"/> as rating makes it from what is recorded (no meter catch-up).</summary>
    internal static async Task<RatedInvoice> RateAsync(Tx tx, string accountId, RatingWindow window) =>
        (await LoadAsync(tx, accountId, window)).Rate(accountId, window);

    /// <summary>
    /// Reads what rating needs for one account (or all): the contracts active in the window, their
    /// plan versions, the usage summed per contract line and metric (split where a version takes
    /// effect inside the window) and the period's SLA credits.
    /// </summary>
    private static async Task<RatingData> LoadAsync(Tx tx, string? accountId, RatingWindow window)
    {
        var start = window.Period.StartMs;
        var until = window.RatedUntil;
        var contracts = await ContractStore.ActiveInAsync(tx, accountId, start, until);
        var versions = await VersionsOfAsync(tx, contracts.Select(c => c.Id).ToList());
        var usage = await UsageRecords.ByLineAsync(tx, accountId, start, until);
        // Where a version takes effect inside the window, that contract's usage is summed per segment instead.
        var totals = new List<UsageTotal>(usage.Count);
        var split = versions.Where(v => v.EffectiveFrom > start && v.EffectiveFrom < until).GroupBy(v => v.ContractId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(v => v.EffectiveFrom).Distinct().Order().ToList(), StringComparer.Ordinal);
        var accountOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var u in usage)
        {
            accountOf[u.ContractId] = u.AccountId;
            if (!split.ContainsKey(u.ContractId))
            {
                totals.Add(new UsageTotal(u.ContractId, (int)u.Item, u.Metric, start, u.Quantity));
            }
        }
        foreach (var (contractId, boundaries) in split)
        {
            var edges = boundaries.Prepend(start).Append(until).ToList();
            for (var i = 0; i + 1 < edges.Count; i++)
            {
                var segment = await UsageRecords.ByLineOfContractAsync(tx, contractId, edges[i], edges[i + 1]);
                totals.AddRange(segment.Select(u => new UsageTotal(u.ContractId, (int)u.Item, u.Metric, edges[i], u.Quantity)));
            }
        }
        var credits = await SlaStore.CreditsOfPeriodAsync(tx, accountId, start);
        return new RatingData(contracts, versions, totals, credits);
    }

    /// <summary>Every price plan version of the contracts, read in slices of a few hundred contracts.</summary>
    internal static async Task<List<VersionRow>> VersionsOfAsync(Tx tx, IReadOnlyList<string> contractIds)
    {
        var versions = new List<VersionRow>();
        foreach (var slice in contractIds.Chunk(ContractsPerRead))
        {
            var args = new DynamicParameters();
            versions.AddRange(await tx.QueryAsync<VersionRow>(
                $"""
                SELECT contract_id AS ContractId, item AS Item, version AS Version, effective_from AS EffectiveFrom, plan AS Plan,
                       reason AS Reason, created_by AS CreatedBy, created_at AS CreatedAt
                FROM price_plan_versions WHERE contract_id {SqlLists.In(args, "Contract", slice)}
                """, args));
        }
        return versions;
    }

    /// <summary>How many price plan versions the contracts have.</summary>
    private static async Task<long> CountVersionsAsync(Tx tx, IReadOnlyList<string> contractIds)
    {
        var count = 0L;
        foreach (var slice in contractIds.Chunk(ContractsPerRead))
        {
            var args = new DynamicParameters();
            count += await tx.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM price_plan_versions WHERE contract_id {SqlLists.In(args, "Contract", slice)}", args);
        }
        return count;
    }

    private const int ContractsPerRead = 500;

    /// <summary>The loaded inputs, rated per account on demand.</summary>
    private sealed class RatingData
    {
        private readonly ILookup<string, ContractRow> _contracts;
        private readonly ILookup<string, VersionRow> _versions;
        private readonly ILookup<string, UsageTotal> _usage;
        private readonly ILookup<string, SlaStore.CreditRow> _credits;

        public RatingData(List<ContractRow> contracts, List<VersionRow> versions, List<UsageTotal> usage, List<SlaStore.CreditRow> credits)
        {
            _contracts = contracts.ToLookup(c => c.AccountId, StringComparer.Ordinal);
            _versions = versions.ToLookup(v => v.ContractId, StringComparer.Ordinal);
            _usage = usage.ToLookup(u => u.ContractId, StringComparer.Ordinal);
            _credits = credits.ToLookup(c => c.AccountId, StringComparer.Ordinal);
            Accounts = contracts.Select(c => c.AccountId).ToHashSet(StringComparer.Ordinal);
        }

        public IReadOnlySet<string> Accounts { get; }

        public long VersionCount(string accountId) => _contracts[accountId].Sum(c => (long)_versions[c.Id].Count());

        public IReadOnlyList<string> ContractIds(string accountId) => _contracts[accountId].Select(c => c.Id).ToList();

        public RatedInvoice Rate(string accountId, RatingWindow window)
        {
            var contracts = _contracts[accountId].Select(c => ToRating(c, _versions[c.Id])).ToList();
            return Rater.Rate(window, contracts, contracts.SelectMany(c => _usage[c.Id]),
                _credits[accountId].Select(c => new SlaCredit(c.ContractId, c.Term, Money(c.Target), Money(c.Measured), Money(c.CreditPercent), c.Detail)));
        }
    }

    internal static RatingContract ToRating(ContractRow c, IEnumerable<VersionRow> versions)
    {
        var lines = c.Lines;
        var byItem = versions.ToLookup(v => (int)v.Item);
        var map = lines.ToDictionary(l => l.Item, l => (IReadOnlyList<PlanVersion>)byItem[l.Item]
            .Select(v => new PlanVersion((int)v.Version, v.EffectiveFrom, JsonSerializer.Deserialize<PricePlan>(v.Plan, WelkinJson.Client)!))
            .Prepend(new PlanVersion(1, c.CreatedAt, l.PricePlan)).OrderBy(v => v.Version).ToList());
        return new RatingContract(c.Id, c.AcceptedAt, c.TerminatedAt, lines, map, c.Name);
    }

    private static decimal Money(object value) => value switch
    {
        decimal d => d,
        string s => decimal.Parse(s, NumberStyles.Number | NumberStyles.AllowExponent, CultureInfo.InvariantCulture),
        _ => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
    };

    // ---- storage ----------------------------------------------------------------------------

    private async Task<InvoiceView> InsertAsync(Tx tx, Caller caller, string accountId, BillingPeriod period, InvoiceWindow window, RatedInvoice rated)
    {
        var now = clock.GetUtcNow();
        var id = Ids.New(Ids.Invoice, clock);
        var number = await InvoiceNumbers.NextAsync(tx, options.InvoicePrefix, now);
        var issueDate = DateOnly.FromDateTime(now.UtcDateTime);
        var view = new InvoiceView(id, accountId, period.ToString(), window.Kind, InvoiceState.Issued, period.Start, DbTime.FromDb(window.PeriodEnd),
            DbTime.FromDb(window.End), rated.Lines, rated.Totals, rated.PlanVersions, caller.PrincipalId, now, number, issueDate,
            issueDate.AddDays(options.PaymentTermsDays), options.PaymentTermsDays, Provider, await BillToAsync(tx, accountId), rated.Contracts);
        await tx.ExecuteAsync(
            """
            INSERT INTO invoices (id, account_id, period, kind, period_start, period_end, totals, line_count, document, issued_by, issued_at, number)
            VALUES (@Id, @AccountId, @Period, @Kind, @PeriodStart, @PeriodEnd, @Totals, @LineCount, @Document, @IssuedBy, @IssuedAt, @Number)
            """,
            new
            {
                Id = id,
                Number = number,
                AccountId = accountId,
                Period = period.ToString(),
                Kind = WireNames.Of(window.Kind),
                PeriodStart = period.StartMs,
                window.PeriodEnd,
                Totals = JsonSerializer.Serialize(rated.Totals, WelkinJson.Client),
                LineCount = (long)rated.Lines.Count,
                Document = JsonSerializer.Serialize(view, WelkinJson.Client),
                IssuedBy = caller.PrincipalId,
                IssuedAt = now.ToUnixTimeMilliseconds(),
            });
        var totals = rated.Totals.Count == 0 ? "nothing due" : string.Join(", ", rated.Totals.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Total:0.00} {t.Currency}")));
        await audit.AppendAsync(tx, caller, new AuditEvent("invoice.issue", id, AuditEvent.Success, accountId,
            $"number={number}; period={period}; kind={WireNames.Of(window.Kind)}; lines={rated.Lines.Count}; {totals}"));
        var data = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["invoiceId"] = id,
            ["number"] = number,
            ["period"] = period.ToString(),
            ["kind"] = WireNames.Of(window.Kind),
        };
        foreach (var t in rated.Totals)
        {
            data[$"total.{t.Currency}"] = t.Total.ToString(CultureInfo.InvariantCulture);
        }
        await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.InvoiceIssued, id, accountId, data));
        return view;
    }

    private InvoiceParty Provider => new(options.Provider.Name, options.Provider.Address);

    private static async Task<InvoiceParty?> BillToAsync(Tx tx, string accountId) =>
        await AccountStore.BillToAsync(tx, accountId) is { } a ? new InvoiceParty(a.DisplayName, a.BillingAddress, a.Id, a.Name) : null;

    private static Error Exists(string accountId, BillingPeriod period, string id) =>
        new("invoice-exists", ErrorKind.Conflict, $"Account '{accountId}' already has invoice '{id}' for {period}; an issued invoice never changes.");

    private Task<string?> InvoiceExistsAsync(string accountId, BillingPeriod period, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<string>("SELECT id FROM invoices WHERE account_id = @Id AND period_start = @Start", new { Id = accountId, Start = period.StartMs }, ct);

    /// <summary>Whether the account has an invoice for the period starting at <paramref name="periodStart"/> (its credits are then final).</summary>
    internal static async Task<bool> IsInvoicedAsync(Tx tx, string accountId, long periodStart) =>
        await tx.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM invoices WHERE account_id = @AccountId AND period_start = @Start", new { AccountId = accountId, Start = periodStart }) > 0;

    private async Task<AccountInfo?> LoadAccountAsync(string accountId, CancellationToken ct)
    {
        var state = await AccountStore.StateAsync(db, accountId, ct);
        if (state is null)
        {
            return null;
        }
        long? closedAt = null;
        if (state == Closed)
        {
            closedAt = await EventLog.LastAtAsync(db, EventLog.Types.AccountClosed, accountId, ct);
        }
        return new AccountInfo(accountId, state, closedAt);
    }

    private static Error? CheckRead(Caller caller, string accountId)
    {
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        return Tenancy.Require(caller, Permission.BillingRead, "Reading invoices");
    }

    private static async Task<IReadOnlyList<PricePlanVersionView>> VersionViewsAsync(Tx tx, ContractRow contract)
    {
        var rows = await tx.QueryAsync<VersionRow>(
            """
            SELECT contract_id AS ContractId, item AS Item, version AS Version, effective_from AS EffectiveFrom, plan AS Plan,
                   reason AS Reason, created_by AS CreatedBy, created_at AS CreatedAt
            FROM price_plan_versions WHERE contract_id = @Id ORDER BY item, version
            """, new { Id = contract.Id });
        var byItem = rows.ToLookup(r => (int)r.Item);
        return contract.Lines.OrderBy(l => l.Item)
            .SelectMany(l => byItem[l.Item].Select(ToView).Prepend(new PricePlanVersionView(contract.Id, l.Item, 1, DbTime.FromDb(contract.CreatedAt), l.PricePlan,
                null, "as contracted", DbTime.FromDb(contract.CreatedAt))))
            .ToList();
    }

    private static PricePlanVersionView ToView(VersionRow r) =>
        new(r.ContractId, (int)r.Item, (int)r.Version, DbTime.FromDb(r.EffectiveFrom), JsonSerializer.Deserialize<PricePlan>(r.Plan, WelkinJson.Client)!,
            r.CreatedBy, r.Reason, DbTime.FromDb(r.CreatedAt));

    private static string Clip(string s) => s.Length <= 200 ? s : s[..200] + "…";

    private sealed record AccountInfo(string Id, string State, long? ClosedAt);

    private sealed record DocumentRow(string AccountId, string Document);

    private sealed record SummaryRow(string Id, string AccountId, string Period, string Kind, long PeriodStart, long PeriodEnd, string Totals, long LineCount, string IssuedBy, long IssuedAt, string? Number);

    internal sealed record VersionRow(string ContractId, long Item, long Version, long EffectiveFrom, string Plan, string? Reason, string CreatedBy, long CreatedAt);
}
