using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Welkin.Contracts;
using Welkin.Core.Billing;
using Welkin.Core.Common;
using Welkin.Core.Metering;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Billing;

/// <summary>
/// What makes an invoice a bill a person sends: its number, dates and payment terms, the provider
/// and the bill-to account with their addresses, contract names, metric names a business manager
/// reads, consistent money, and a page that prints. The fixture configures the provider
/// (<see cref="BillingApp.ProviderName"/>, 14 days net, prefix EX).
/// </summary>
public sealed class InvoiceDocumentTests(BillingApp app) : IClassFixture<BillingApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const long Hour = RatingRules.HourMs;
    private const long Day = RatingRules.DayMs;

    /// <summary>A tenant with a contract named "web shop" billed 202.41 USD for the returned period (as in <see cref="InvoiceTests"/>).</summary>
    private async Task<(BilledTenant Tenant, BillingPeriod Period)> BilledMonthAsync()
    {
        var (tenants, period) = await BilledMonthAsync(1);
        return (tenants[0], period);
    }

    private async Task<(List<BilledTenant> Tenants, BillingPeriod Period)> BilledMonthAsync(int count)
    {
        app.NextMonth();
        var tenants = new List<BilledTenant>();
        for (var i = 0; i < count; i++)
        {
            var tenant = await BillingApi.TenantAsync(app);
            var named = await tenant.Client.PostAsJsonAsync($"/api/v1/contracts/{tenant.Contract.Id}/amendments", new ContractAmendmentRequest(Name: "web shop"), WelkinJson.Client, Ct);
            named.StatusCode.ShouldBe(HttpStatusCode.OK);
            tenants.Add(tenant);
        }
        var period = app.NextMonth(day: 1);
        foreach (var tenant in tenants)
        {
            await app.UsageAsync(tenant, period, 0, UsageMetrics.UnitOrderedMs, 3 * period.Milliseconds);
            await app.UsageAsync(tenant, period, 0, UsageMetrics.UnitProvisionedMs, 2 * period.Milliseconds);
            await app.UsageAsync(tenant, period, 0, UsageMetrics.VcpuMs, 2 * 300 * Hour, slices: 8);
            await app.UsageAsync(tenant, period, 1, UsageMetrics.StorageGibMs, 500 * 10 * Day);
        }
        app.NextMonth(day: 1);
        return (tenants, period);
    }

    private static Task<HttpResponseMessage> SetAddressAsync(HttpClient client, string accountId, string? address) =>
        client.PutAsJsonAsync($"/api/v1/accounts/{accountId}/billing-address", new SetBillingAddressRequest(address), WelkinJson.Client, Ct);

    private static long Sequence(string number) => long.Parse(number.Split('-')[2], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Issue_NumbersInvoicesInSequence_AndAnIssuedInvoiceKeepsItsNumber()
    {
        var (tenants, period) = await BilledMonthAsync(2);
        var (first, second) = (tenants[0], tenants[1]);

        var a = await first.Billing.IssuedAsync(first.AccountId, period);
        var again = await first.Billing.IssueAsync(first.AccountId, period.ToString());
        var b = await second.Billing.IssuedAsync(second.AccountId, period);
        var read = await (await first.Client.GetAsync($"/api/v1/invoices/{a.Id}", Ct)).ReadAsync<InvoiceView>();
        var list = await (await first.Client.GetAsync($"/api/v1/accounts/{first.AccountId}/invoices", Ct)).ReadAsync<Page<InvoiceSummaryView>>();

        a.Number.ShouldNotBeNull().ShouldMatch($"^EX-{app.Clock.GetUtcNow().Year}-\\d{{6}}$");
        await again.ProblemAsync(HttpStatusCode.Conflict, "invoice-exists");
        Sequence(b.Number!).ShouldBe(Sequence(a.Number) + 1);
        read.Number.ShouldBe(a.Number);
        list.Items.ShouldHaveSingleItem().Number.ShouldBe(a.Number);
    }

    [Fact]
    public async Task Issue_CarriesProviderBillToDatesTermsContractNamesAndMetricNames()
    {
        var (tenant, period) = await BilledMonthAsync();
        (await SetAddressAsync(tenant.Client, tenant.AccountId, "Acme Ltd\r\n  7 Mill Lane \nRivertown RT9 9ZZ\n")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var today = DateOnly.FromDateTime(app.Clock.GetUtcNow().UtcDateTime);

        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);

        invoice.Provider.ShouldBe(new InvoiceParty(BillingApp.ProviderName, "1 Harbour Road\nPort Town PT1 2AB"));
        invoice.BillTo.ShouldNotBeNull().ShouldSatisfyAllConditions(
            b => b.Name.ShouldBe(tenant.Tenant.SignUp.Account.DisplayName),
            b => b.AccountId.ShouldBe(tenant.AccountId),
            b => b.AccountName.ShouldBe(tenant.Tenant.SignUp.Account.Name),
            b => b.Address.ShouldBe("Acme Ltd\n7 Mill Lane\nRivertown RT9 9ZZ"));
        invoice.IssueDate.ShouldBe(today);
        invoice.DueDate.ShouldBe(today.AddDays(BillingApp.PaymentTermsDays));
        invoice.PaymentTermsDays.ShouldBe(BillingApp.PaymentTermsDays);
        invoice.Contracts.ShouldBe([new InvoiceContract(tenant.Contract.Id, "web shop")]);
        invoice.Lines.Select(l => (l.Metric, l.MetricName)).ShouldBe(
        [
            ("compute-unit", "servers per month"), ("compute-unit", "servers per month"), ("cpu-hour", "CPU hours"), ("storage-tb-day", "storage TB-days"),
        ]);
    }

    [Fact]
    public async Task Json_AmountsHaveTwoDecimals_AndRatesStayAsThePlanStatesThem()
    {
        var (tenant, period) = await BilledMonthAsync();
        var issued = await tenant.Billing.IssuedAsync(tenant.AccountId, period);

        var json = await (await tenant.Client.GetAsync($"/api/v1/invoices/{issued.Id}", Ct)).Content.ReadAsStringAsync(Ct);

        using var doc = JsonDocument.Parse(json);
        var amounts = doc.RootElement.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("amount").GetRawText())
            .Concat(doc.RootElement.GetProperty("totals").EnumerateArray().SelectMany(t => new[] { "charges", "credits", "total" }.Select(p => t.GetProperty(p).GetRawText())))
            .ToList();
        amounts.ShouldBe(["80.00", "20.00", "78.00", "24.41", "202.41", "0.00", "202.41"]);
        var prices = doc.RootElement.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("unitPrice").GetRawText()).ToList();
        prices[0].ShouldBe("40"); // the offering's plan says 40
        prices[2].ShouldBe("0.13");
        prices[3].ShouldBe("5.00");
    }

    [Fact]
    public async Task Html_IsABill_WithNumberDatesPartiesContractNamesMetricNamesAndAPrintStylesheet()
    {
        var (tenant, period) = await BilledMonthAsync();
        await SetAddressAsync(tenant.Client, tenant.AccountId, "Acme Ltd\n7 Mill Lane");
        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);

        var html = await (await tenant.Client.GetAsync($"/api/v1/invoices/{invoice.Id}/html", Ct)).Content.ReadAsStringAsync(Ct);

        html.ShouldContain($"<title>Invoice {invoice.Number}</title>");
        html.ShouldContain($"<tr><th>Invoice number</th><td>{invoice.Number}</td></tr>");
        html.ShouldContain($"<tr><th>Issue date</th><td>{invoice.IssueDate:yyyy-MM-dd}</td></tr>");
        html.ShouldContain($"<tr><th>Due date</th><td>{invoice.DueDate:yyyy-MM-dd}</td></tr>");
        html.ShouldContain("<tr><th>Payment terms</th><td>14 days net</td></tr>");
        html.ShouldContain("<tr><th>Currency</th><td>USD</td></tr>");
        html.ShouldContain($"<strong>{BillingApp.ProviderName}</strong>\n1 Harbour Road\nPort Town PT1 2AB");
        html.ShouldContain("Acme Ltd\n7 Mill Lane");
        html.ShouldContain($"<h2>Contract web shop ({tenant.Contract.Id})</h2>");
        html.ShouldContain("<td>CPU hours</td><td class=\"n\">0.13 USD per hour</td><td class=\"n\">78.00 USD</td>");
        html.ShouldContain("<td>servers per month</td><td class=\"n\">40 USD per unit-month</td><td class=\"n\">80.00 USD</td>");
        html.ShouldContain("<td>servers per month</td><td class=\"n\">20 USD per unit-month</td><td class=\"n\">20.00 USD</td>"); // 50 % off
        html.ShouldContain("<td>storage TB-days</td><td class=\"n\">5.00 USD per tb-day</td>");
        html.ShouldContain("202.41 USD");
        var print = Regex.Match(html, "@media print\\{(.*)\\}</style>").Groups[1].Value;
        print.ShouldContain("@page{size:A4");
        print.ShouldContain("thead{display:table-header-group}");
        print.ShouldContain("tr{break-inside:avoid}");
        print.ShouldContain("h2{break-after:avoid}");
    }

    [Fact]
    public async Task Pdf_IsTheSameBill_WithNumberProviderBillToDueDateMetricNamesAndTotal()
    {
        var (tenant, period) = await BilledMonthAsync();
        await SetAddressAsync(tenant.Client, tenant.AccountId, "Acme Ltd\n7 Mill Lane");
        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);

        var response = await tenant.Client.GetAsync($"/api/v1/invoices/{invoice.Id}/pdf", Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/pdf");
        var text = PdfText(await response.Content.ReadAsByteArrayAsync(Ct));
        text.ShouldContain($"Invoice {invoice.Number}");
        text.ShouldContain(BillingApp.ProviderName);
        text.ShouldContain("1 Harbour Road");
        text.ShouldContain("Bill to");
        text.ShouldContain(invoice.BillTo!.Name);
        text.ShouldContain("7 Mill Lane");
        text.ShouldContain($"Due date {invoice.DueDate:yyyy-MM-dd}");
        text.ShouldContain("14 days net");
        text.ShouldContain($"Contract web shop ({tenant.Contract.Id})");
        text.ShouldContain("CPU hours");
        text.ShouldContain("0.13 USD per hour");
        text.ShouldContain("78.00 USD");
        text.ShouldContain("Total due");
        text.ShouldContain("202.41 USD");
        text.ShouldContain($"Invoice {invoice.Number} — page 1 of 1");
    }

    [Fact]
    public async Task Pdf_OfAnotherAccountsInvoice_IsNotFound()
    {
        var (tenants, period) = await BilledMonthAsync(2);
        var invoice = await tenants[0].Billing.IssuedAsync(tenants[0].AccountId, period);

        var response = await tenants[1].Client.GetAsync($"/api/v1/invoices/{invoice.Id}/pdf", Ct);

        await response.ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    /// <summary>The words of every page, page after page, as a reader extracts them.</summary>
    private static string PdfText(byte[] pdf)
    {
        using var document = UglyToad.PdfPig.PdfDocument.Open(pdf);
        return string.Join("\n", document.GetPages().Select(p => string.Join(' ', p.GetWords().Select(w => w.Text))));
    }

    [Fact]
    public async Task BillingAddress_IsTheAccountAdminsToSet_AndAnIssuedInvoiceKeepsTheOneItWasMadeWith()
    {
        var (tenant, period) = await BilledMonthAsync();
        var engineer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Engineer);

        var byEngineer = await SetAddressAsync(engineer, tenant.AccountId, "Somewhere else");
        var set = await (await SetAddressAsync(tenant.Client, tenant.AccountId, "Acme Ltd\n7 Mill Lane")).ReadAsync<BillingAddressView>();
        var read = await (await engineer.GetAsync($"/api/v1/accounts/{tenant.AccountId}/billing-address", Ct)).ReadAsync<BillingAddressView>();
        var control = await SetAddressAsync(tenant.Client, tenant.AccountId, "Acme\u001b[31m Ltd");
        var tooLong = await SetAddressAsync(tenant.Client, tenant.AccountId, new string('x', BillingAddresses.MaxLength + 1));
        var stale = await tenant.Client.PutAsJsonAsync($"/api/v1/accounts/{tenant.AccountId}/billing-address",
            new SetBillingAddressRequest("Acme", set.Version - 1), WelkinJson.Client, Ct);
        var invoice = await tenant.Billing.IssuedAsync(tenant.AccountId, period);
        (await SetAddressAsync(tenant.Client, tenant.AccountId, "Acme Ltd\n9 New Street")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var later = await (await tenant.Client.GetAsync($"/api/v1/invoices/{invoice.Id}", Ct)).ReadAsync<InvoiceView>();
        var preview = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();

        await byEngineer.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        set.Address.ShouldBe("Acme Ltd\n7 Mill Lane");
        read.ShouldBe(set);
        await control.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await tooLong.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await stale.ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        later.BillTo!.Address.ShouldBe("Acme Ltd\n7 Mill Lane");
        preview.BillTo!.Address.ShouldBe("Acme Ltd\n9 New Street");
        preview.Number.ShouldBeNull();
        preview.DueDate.ShouldBeNull();
        (await app.Admin().AuditAsync()).ShouldContain(e => e.Action == "account.set-billing-address" && e.Target == tenant.AccountId);
    }
}
