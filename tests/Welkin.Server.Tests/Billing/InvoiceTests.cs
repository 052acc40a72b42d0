using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Billing;
using Welkin.Core.Common;
using Welkin.Core.Metering;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Billing;

/// <summary>
/// Invoices through the HTTP pipeline, on usage rows written as the meter writes them. Every test
/// moves the shared clock to months of its own (contract accepted in one month, billed the next).
/// </summary>
public sealed class InvoiceTests(BillingApp app) : IClassFixture<BillingApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const long Hour = RatingRules.HourMs;
    private const long Day = RatingRules.DayMs;

    /// <summary>A tenant whose contract is active from the month before the returned period; the clock is then past that period.</summary>
    private async Task<(BilledTenant Tenant, BillingPeriod Period)> BilledMonthAsync(string? offeringName = null)
    {
        app.NextMonth();
        var tenant = await BillingApi.TenantAsync(app, offeringName);
        var period = app.NextMonth(day: 1);
        // Hand-computed charges of the period:
        //   compute-unit: 3 ordered, 2 provisioned all month -> 2 x 40.00 = 80.00; 1 x 40.00 x 50 % = 20.00
        //   cpu-hour: 2 vCPUs x 300 hours = 600 CPU-hours x 0.13 = 78.00
        //   storage-tb-day: 500 GiB for 10 days = 500/1024 x 10 = 4.8828125 TB-days x 5.00 = 24.4140625 -> 24.41
        //   total 202.41 USD
        await app.UsageAsync(tenant, period, 0, UsageMetrics.UnitOrderedMs, 3 * period.Milliseconds);
        await app.UsageAsync(tenant, period, 0, UsageMetrics.UnitProvisionedMs, 2 * period.Milliseconds);
        await app.UsageAsync(tenant, period, 0, UsageMetrics.VcpuMs, 2 * 300 * Hour, slices: 8);
        await app.UsageAsync(tenant, period, 1, UsageMetrics.StorageGibMs, 500 * 10 * Day);
        app.NextMonth(day: 1);
        return (tenant, period);
    }

    [Fact]
    public async Task Issue_RatesThePeriodLineByLine()
    {
        var (tenant, period) = await BilledMonthAsync();

        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);

        invoice.Id.ShouldNotBeNull().ShouldStartWith("inv_");
        invoice.State.ShouldBe(InvoiceState.Issued);
        invoice.Kind.ShouldBe(InvoiceKind.Period);
        invoice.Period.ShouldBe(period.ToString());
        invoice.PeriodStart.ShouldBe(period.Start);
        invoice.PeriodEnd.ShouldBe(period.End);
        invoice.Lines.Select(l => (l.Kind, l.Item, l.Metric, l.Quantity, l.UnitPrice, l.Amount)).ShouldBe(
        [
            (InvoiceLineKind.Charge, 0, "compute-unit", 2m, 40m, 80.00m),
            (InvoiceLineKind.Unprovisioned, 0, "compute-unit", 1m, 20m, 20.00m),
            (InvoiceLineKind.Charge, 0, "cpu-hour", 600m, 0.13m, 78.00m),
            (InvoiceLineKind.Charge, 1, "storage-tb-day", 4.882812m, 5m, 24.41m),
        ]);
        invoice.Lines.ShouldAllBe(l => l.ContractId == tenant.Contract.Id && l.PlanVersion == 1 && l.Currency == "USD");
        invoice.Totals.ShouldBe([new InvoiceTotalView("USD", 202.41m, 0m, 202.41m)]);
        invoice.PlanVersions.Select(v => (v.Item, v.Version)).ShouldBe([(0, 1), (1, 1)]);
        invoice.PlanVersions[0].PricePlan.Rates.Select(r => r.Price).ShouldBe([40m, 0.13m]);

        var events = await (await app.Admin().GetAsync($"/api/v1/events?accountId={tenant.AccountId}&type=invoice.issued", Ct)).ReadAsync<Page<EventView>>();
        events.Items.ShouldHaveSingleItem().Target.ShouldBe(invoice.Id);
        (await app.Admin().AuditAsync()).ShouldContain(e => e.Action == "invoice.issue" && e.Target == invoice.Id && e.AccountId == tenant.AccountId);
    }

    [Fact]
    public async Task Issue_Twice_Returns409InvoiceExists()
    {
        var (tenant, period) = await BilledMonthAsync();
        var first = await tenant.Billing.IssuedAsync(tenant.AccountId, period);

        var second = await tenant.Billing.IssueAsync(tenant.AccountId, period.ToString());

        var problem = await second.ProblemAsync(HttpStatusCode.Conflict, "invoice-exists");
        problem.GetProperty("detail").GetString()!.ShouldContain(first.Id!);
        var list = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices", Ct)).ReadAsync<Page<InvoiceSummaryView>>();
        list.Items.ShouldHaveSingleItem().Id.ShouldBe(first.Id);
    }

    [Fact]
    public async Task Issue_BeforeThePeriodEnds_Returns409PeriodOpen_WhilePreviewShowsItSoFar()
    {
        var (tenant, period) = await BilledMonthAsync();
        var current = BillingPeriod.Of(app.Clock.GetUtcNow());
        await app.UsageAsync(tenant, current, 0, UsageMetrics.VcpuMs, 10 * Hour);

        var issue = await tenant.Billing.IssueAsync(tenant.AccountId, current.ToString());
        var preview = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();

        await issue.ProblemAsync(HttpStatusCode.Conflict, "period-open");
        preview.State.ShouldBe(InvoiceState.Preview);
        preview.Id.ShouldBeNull();
        preview.Period.ShouldBe(current.ToString());
        preview.RatedUntil.ShouldBe(app.Clock.GetUtcNow());
        preview.Lines.ShouldContain(l => l.Metric == "cpu-hour" && l.Amount == 1.30m);
        var list = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices", Ct)).ReadAsync<Page<InvoiceSummaryView>>();
        list.Items.ShouldBeEmpty();
        // The ended period previews exactly as it will be issued.
        var ended = await (await tenant.Billing.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices/preview?period={period}", Ct)).ReadAsync<InvoiceView>();
        var issued = await tenant.Billing.IssuedAsync(tenant.AccountId, period);
        ended.Lines.ShouldBe(issued.Lines);
        ended.Totals.ShouldBe(issued.Totals);
    }

    [Fact]
    public async Task IssuedInvoice_IsUnchangedByALaterPriceChange_WhichRatesTheNextPeriod()
    {
        var (tenant, period) = await BilledMonthAsync();
        var issued = await tenant.Billing.IssuedAsync(tenant.AccountId, period);
        var stored = await (await tenant.Client.GetAsync($"/api/v1/invoices/{issued.Id}", Ct)).Content.ReadAsStringAsync(Ct);
        var next = BillingPeriod.Of(app.Clock.GetUtcNow());
        var doubled = new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 80m), new PriceRate("cpu-hour", "hour", 0.26m)]);

        // The issued period cannot be repriced; the current one can, from its start (not invoiced yet).
        var back = await tenant.Billing.AddVersionAsync(tenant.Contract.Id, new AddPricePlanVersionRequest(0, period.Start, doubled, "too late"));
        var added = await (await tenant.Billing.AddVersionAsync(tenant.Contract.Id, new AddPricePlanVersionRequest(0, next.Start, doubled, "new prices")))
            .ReadAsync<PricePlanVersionView>(HttpStatusCode.Created);

        await back.ProblemAsync(HttpStatusCode.Conflict, "period-invoiced");
        added.Version.ShouldBe(2);
        (await (await tenant.Client.GetAsync($"/api/v1/invoices/{issued.Id}", Ct)).Content.ReadAsStringAsync(Ct)).ShouldBe(stored);
        await app.UsageAsync(tenant, next, 0, UsageMetrics.VcpuMs, 100 * Hour);
        app.NextMonth(day: 1);
        var later = await tenant.Billing.IssuedAsync(tenant.AccountId, next);
        later.Lines.Single(l => l.Metric == "cpu-hour").ShouldSatisfyAllConditions(
            l => l.PlanVersion.ShouldBe(2), l => l.UnitPrice.ShouldBe(0.26m), l => l.Amount.ShouldBe(26.00m));
        later.PlanVersions.Single(v => v.Item == 0).Version.ShouldBe(2);
        (await (await tenant.Client.GetAsync($"/api/v1/invoices/{issued.Id}", Ct)).Content.ReadAsStringAsync(Ct)).ShouldBe(stored);
    }

    [Fact]
    public async Task PricePlanVersion_MidPeriod_SplitsTheUsageAtItsStart()
    {
        app.NextMonth();
        var tenant = await BillingApi.TenantAsync(app);
        var period = app.NextMonth(day: 1);
        var change = period.Start.AddDays(10);
        var plan = new PricePlan("USD", "month", [new PriceRate("cpu-hour", "hour", 0.20m)]);
        await (await tenant.Billing.AddVersionAsync(tenant.Contract.Id, new AddPricePlanVersionRequest(0, change, plan))).ReadAsync<PricePlanVersionView>(HttpStatusCode.Created);
        // 10 CPU-hours before the change at 0.13 = 1.30; 10 after at 0.20 = 2.00 (compute-unit is not in version 2)
        await app.UsageAsync(tenant, period, 0, UsageMetrics.VcpuMs, 10 * Hour, slices: 2);
        await app.UsageAsync(tenant, period, 0, UsageMetrics.VcpuMs, 10 * Hour, slices: 2, offsetMs: 10 * Day);
        app.NextMonth(day: 1);

        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);
        var versions = await (await tenant.Client.GetAsync($"/api/v1/contracts/{tenant.Contract.Id}/price-plans", Ct)).ReadAsync<List<PricePlanVersionView>>();

        invoice.Lines.Where(l => l.Metric == "cpu-hour").Select(l => (l.PlanVersion, l.Amount)).ShouldBe([(1, 1.30m), (2, 2.00m)]);
        versions.Select(v => (v.Item, v.Version)).ShouldBe([(0, 1), (0, 2), (1, 1)]);
        versions[1].EffectiveFrom.ShouldBe(change);
    }

    [Fact]
    public async Task SlaCredits_AppearAsNegativeLines()
    {
        var (tenant, period) = await BilledMonthAsync();
        await app.SlaCreditAsync(tenant, period, "availability", 10m);

        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);

        // 10 % of 202.41 = 20.241 -> 20.24
        var credit = invoice.Lines.Where(l => l.Kind == InvoiceLineKind.SlaCredit).ShouldHaveSingleItem();
        credit.Term.ShouldBe("availability");
        credit.Amount.ShouldBe(-20.24m);
        invoice.Totals.ShouldBe([new InvoiceTotalView("USD", 202.41m, -20.24m, 182.17m)]);
    }

    [Fact]
    public async Task Html_IsAPrintablePageWithEveryValueEscaped()
    {
        var (tenant, period) = await BilledMonthAsync(offeringName: "<script>alert('x')</script> & co");
        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);

        var response = await tenant.Client.GetAsync($"/api/v1/invoices/{invoice.Id}/html", Ct);
        var html = await response.Content.ReadAsStringAsync(Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        response.Headers.GetValues("Content-Security-Policy").Single().ShouldBe(InvoiceHtml.ContentSecurityPolicy);
        html.ShouldStartWith("<!DOCTYPE html>");
        html.ShouldNotContain("<script", Case.Insensitive);
        html.ShouldContain("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co");
        html.ShouldContain("202.41 USD");
        html.ShouldContain(invoice.Id!);
    }

    [Fact]
    public async Task Permissions_AccountAdminReadsItsInvoices_EngineerAndViewerCannot_OnlyBillingWriteIssues()
    {
        var (tenant, period) = await BilledMonthAsync();
        var engineer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Engineer);

        var byAccountAdmin = await tenant.Client.IssueAsync(tenant.AccountId, period.ToString());
        var byAuditor = await (await app.ProviderPrincipalAsync(Role.Auditor)).IssueAsync(tenant.AccountId, period.ToString());
        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);
        var read = await tenant.Client.GetAsync($"/api/v1/invoices/{invoice.Id}", Ct);
        var byEngineer = await engineer.GetAsync($"/api/v1/invoices/{invoice.Id}", Ct);
        var versionByAccountAdmin = await tenant.Client.AddVersionAsync(tenant.Contract.Id,
            new AddPricePlanVersionRequest(0, app.Clock.GetUtcNow().AddDays(1), new PricePlan("USD", "month", [new PriceRate("cpu-hour", "hour", 0.01m)])));

        await byAccountAdmin.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await byAuditor.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        (await read.ReadAsync<InvoiceView>()).Id.ShouldBe(invoice.Id);
        await byEngineer.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await versionByAccountAdmin.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Theory]
    [InlineData("2026-13")]
    [InlineData("26-11")]
    [InlineData("")]
    [InlineData("2026-11-01")]
    public async Task Issue_WithABadPeriod_Returns400(string period)
    {
        var (tenant, _) = await BilledMonthAsync();

        var response = await tenant.Billing.IssueAsync(tenant.AccountId, period);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").TryGetProperty("period", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task PricePlanVersion_InThePastOrInvalid_Returns400()
    {
        app.NextMonth();
        var tenant = await BillingApi.TenantAsync(app);
        var plan = new PricePlan("USD", "month", [new PriceRate("cpu-hour", "hour", 0.2m)]);

        var past = await tenant.Billing.AddVersionAsync(tenant.Contract.Id, new AddPricePlanVersionRequest(0, app.Clock.GetUtcNow().AddDays(-1), plan));
        var noLine = await tenant.Billing.AddVersionAsync(tenant.Contract.Id, new AddPricePlanVersionRequest(7, app.Clock.GetUtcNow().AddDays(1), plan));
        var unknownRate = await tenant.Billing.AddVersionAsync(tenant.Contract.Id,
            new AddPricePlanVersionRequest(0, app.Clock.GetUtcNow().AddDays(1), plan with { Rates = [new PriceRate("gpu-hour", "hour", 1m)] }));

        (await past.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed")).GetProperty("errors").TryGetProperty("effectiveFrom", out _).ShouldBeTrue();
        (await noLine.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed")).GetProperty("errors").TryGetProperty("item", out _).ShouldBeTrue();
        (await unknownRate.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed")).GetProperty("errors").TryGetProperty("pricePlan.rates[0].unit", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task PeriodicWork_IssuesEachEndedPeriodOnce()
    {
        var (tenant, period) = await BilledMonthAsync();
        var issuer = app.Services.GetRequiredService<InvoiceIssuer>();

        await issuer.RunAsync(app.Clock.GetUtcNow(), Ct);
        await issuer.RunAsync(app.Clock.GetUtcNow(), Ct);

        var list = await (await tenant.Billing.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices", Ct)).ReadAsync<Page<InvoiceSummaryView>>();
        var summary = list.Items.ShouldHaveSingleItem();
        summary.Period.ShouldBe(period.ToString());
        summary.IssuedBy.ShouldBe("system");
        summary.Totals.ShouldBe([new InvoiceTotalView("USD", 202.41m, 0m, 202.41m)]);
        await (await tenant.Billing.IssueAsync(tenant.AccountId, period.ToString())).ProblemAsync(HttpStatusCode.Conflict, "invoice-exists");
    }

    [Fact]
    public async Task ClosingTheAccount_GivesAFinalInvoiceUpToTheClosing()
    {
        var (tenant, period) = await BilledMonthAsync();
        var current = BillingPeriod.Of(app.Clock.GetUtcNow());
        await app.UsageAsync(tenant, current, 0, UsageMetrics.VcpuMs, 10 * Hour);
        var closedAt = app.Clock.GetUtcNow();
        await (await tenant.Client.PostAsJsonAsync($"/api/v1/accounts/{tenant.AccountId}/close", new CloseAccountRequest(), WelkinJson.Client, Ct))
            .ReadAsync<CloseAccountResponse>();
        app.Clock.Advance(TimeSpan.FromHours(1));

        await app.Services.GetRequiredService<InvoiceIssuer>().RunAsync(app.Clock.GetUtcNow(), Ct);

        var list = await (await tenant.Billing.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices", Ct)).ReadAsync<Page<InvoiceSummaryView>>();
        list.Items.Select(i => (i.Period, i.Kind)).Order().ShouldBe([(period.ToString(), InvoiceKind.Period), (current.ToString(), InvoiceKind.Final)]);
        var final = await (await tenant.Billing.GetAsync($"/api/v1/invoices/{list.Items.Single(i => i.Kind == InvoiceKind.Final).Id}", Ct)).ReadAsync<InvoiceView>();
        final.PeriodEnd.ShouldBe(closedAt);
        final.Lines.ShouldContain(l => l.Metric == "cpu-hour" && l.Amount == 1.30m);
    }
}
