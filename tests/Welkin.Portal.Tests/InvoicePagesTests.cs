using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Portal.Downloads;

namespace Welkin.Portal.Tests;

/// <summary>
/// A portal cloud in simulation mode two hours before a month ends: a contract accepted then runs into an ended
/// period, whose invoice has lines.
/// </summary>
public sealed class MonthEndPortalApp : PortalApp
{
    public static readonly DateTimeOffset Start = new(2026, 10, 31, 22, 0, 0, TimeSpan.Zero);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Port"] = "0",
        ["Welkin:Clock"] = "virtual",
        ["Welkin:ClockStart"] = Start.ToString("o"),
    };
}

public sealed class InvoicePagesTests(MonthEndPortalApp app, Browser browser) : IClassFixture<MonthEndPortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Invoices_ListThePreviewAndTheIssued_AndAnInvoiceShowsItsLinesAndTotals()
    {
        // The only test of this class that moves the clock: into November, so October is invoiced with the contract's lines.
        var tenant = await MoneyData.TenantAsync(app, "inv");
        var advanced = await (await app.Admin().PostAsJsonAsync("/api/v1/clock/advance",
            new ClockAdvanceRequest(To: MonthEndPortalApp.Start.AddHours(3)), WelkinJson.Client, Ct)).ReadAsync<ClockAdvanceView>();
        advanced.Now.Month.ShouldBe(11);
        var invoice = await MoneyData.IssueAsync(app, tenant.AccountId, "2026-10");
        invoice.Lines.ShouldNotBeEmpty();
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");

        await page.GotoAsync("/invoices");

        (await page.GetByRole(AriaRole.Heading, new() { Name = "This period: 2026-11 (preview)" }).CountAsync()).ShouldBe(1);
        (await page.GetByRole(AriaRole.Table, new() { Name = "Current period lines" }).CountAsync()).ShouldBe(1);
        var issued = page.GetByRole(AriaRole.Table, new() { Name = "Issued invoices" }).Locator("tbody tr");
        (await issued.CountAsync()).ShouldBe(1);
        var cells = await issued.Locator("td").AllTextContentsAsync();
        cells[0].ShouldBe(invoice.Number);
        cells[1].ShouldBe("2026-10");
        cells[6].ShouldBe(string.Join(", ", invoice.Totals.Select(t => Components.Shared.Format.Money(t.Total, t.Currency))));
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("invoices");

        await issued.GetByRole(AriaRole.Link, new() { Name = invoice.Number }).ClickAsync();
        // Links navigate in place (enhanced navigation): the address changes before the page does.
        await page.GetByRole(AriaRole.Heading, new() { Name = "Invoice " + invoice.Number, Level = 1 }).WaitForAsync();
        page.Url.ShouldEndWith("/invoices/" + invoice.Id);
        var lines = page.GetByRole(AriaRole.Table, new() { Name = $"Invoice {invoice.Number} lines" }).Locator("tbody tr");
        (await lines.CountAsync()).ShouldBe(invoice.Lines.Count);
        var amounts = await lines.Locator("td:last-child").AllTextContentsAsync();
        amounts.ShouldBe(invoice.Lines.Select(l => Components.Shared.Format.Money(l.Amount, l.Currency)).ToList());
        var totals = await page.GetByRole(AriaRole.Table, new() { Name = $"Invoice {invoice.Number} totals" }).Locator("tbody td").Last.TextContentAsync();
        totals.ShouldBe(Components.Shared.Format.Money(invoice.Totals.Single().Total, invoice.Totals.Single().Currency));
        (await page.GetByText(tenant.Contract.Name!).CountAsync()).ShouldBeGreaterThan(0);
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("invoice");
    }

    [Fact]
    public async Task DownloadPdf_GivesThePdfAsAnAttachmentNamedByTheNumber_AndTheHtmlHasItsOwnStrictPolicy()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("inv");
        var invoice = await MoneyData.IssueAsync(app, signUp.Account.Id, "2026-09");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(signUp.Account.Name, "admin");
        await page.GotoAsync("/invoices/" + invoice.Id);

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "Download PDF" }).ClickAsync());

        download.SuggestedFilename.ShouldBe($"invoice-{invoice.Number}.pdf");
        await using (var pdf = await download.CreateReadStreamAsync())
        {
            var head = new byte[5];
            await pdf.ReadExactlyAsync(head, Ct);
            System.Text.Encoding.ASCII.GetString(head).ShouldBe("%PDF-");
        }

        var html = await page.RunAndWaitForResponseAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "View the invoice (HTML)" }).ClickAsync(),
            r => r.Url.EndsWith($"/invoices/{invoice.Id}/html", StringComparison.Ordinal));
        html.Status.ShouldBe(200);
        await page.WaitForURLAsync("**/html");
        var headers = await html.AllHeadersAsync();
        headers["content-security-policy"].ShouldBe(InvoiceDownloads.HtmlContentSecurityPolicy);
        headers["x-frame-options"].ShouldBe("DENY");
        (await page.ContentAsync()).ShouldContain(invoice.Number!);
    }

    [Fact]
    public async Task Downloads_WithoutASession_SendToSignIn()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("inv");
        var invoice = await MoneyData.IssueAsync(app, signUp.Account.Id, "2026-09");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = app.Address };

        foreach (var document in new[] { "pdf", "html" })
        {
            using var response = await http.GetAsync($"/invoices/{invoice.Id}/{document}", Ct);
            response.StatusCode.ShouldBe(System.Net.HttpStatusCode.Redirect);
            response.Headers.Location!.OriginalString.ShouldBe("/sign-in?returnUrl=" + Uri.EscapeDataString($"/invoices/{invoice.Id}/{document}"));
        }
    }

    [Fact]
    public async Task Invoices_WithNoneIssued_SayAndStillPreview()
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync("inv");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(signUp.Account.Name, "admin");

        await page.GotoAsync("/invoices");

        (await page.GetByText("No invoice has been issued yet.").CountAsync()).ShouldBe(1);
        (await page.GetByText("No charges so far.").CountAsync()).ShouldBe(1);
        await page.ShouldBeAccessibleAsync();
    }
}
