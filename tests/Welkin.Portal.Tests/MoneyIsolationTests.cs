using Microsoft.Playwright;

namespace Welkin.Portal.Tests;

/// <summary>
/// Account B's session opening account A's invoice or principal (pages and downloads) gets what a well-formed id nobody
/// holds gets: the not-found page, with none of A's names.
/// </summary>
public sealed class MoneyIsolationTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Theory]
    [InlineData("/invoices/{invoice}", "inv")]
    [InlineData("/invoices/{invoice}/html", "inv")]
    [InlineData("/invoices/{invoice}/pdf", "inv")]
    [InlineData("/principals/{principal}", "prn")]
    public async Task AnotherAccountsId_AnswersAsAnIdNobodyHolds(string route, string prefix)
    {
        var (a, _) = await app.SignUpWithPasswordAsync("iso-a");
        var invoice = await MoneyData.IssueLastMonthAsync(app, a.Account.Id);
        var (b, _) = await app.SignUpWithPasswordAsync("iso-b");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(b.Account.Name, "admin");
        string Path(string invoiceId, string principalId) => route.Replace("{invoice}", invoiceId, StringComparison.Ordinal).Replace("{principal}", principalId, StringComparison.Ordinal);

        var theirs = await OpenAsync(context, Path(invoice.Id!, a.Admin.Id));
        var nobodys = await OpenAsync(context, Path(MoneyData.UnknownId(prefix), MoneyData.UnknownId(prefix)));

        theirs.Status.ShouldBe(404);
        nobodys.Status.ShouldBe(404);
        foreach (var name in new[] { a.Account.Name, a.Account.DisplayName, invoice.Number! })
        {
            theirs.Body.ShouldNotContain(name);
        }
        // The same page but for the id it names.
        theirs.Body.Replace(invoice.Id!, "ID", StringComparison.Ordinal).Replace(a.Admin.Id, "ID", StringComparison.Ordinal)
            .ShouldBe(nobodys.Body.Replace(MoneyData.UnknownId(prefix), "ID", StringComparison.Ordinal));
    }

    private static async Task<(int Status, string Body)> OpenAsync(IBrowserContext context, string path)
    {
        var response = await context.APIRequest.GetAsync(path, new() { Headers = new Dictionary<string, string> { ["Accept"] = "text/html" } });
        var body = await response.TextAsync();
        return (response.Status, Strip(body));
    }

    /// <summary>The body without what changes on every answer (antiforgery tokens, correlation ids).</summary>
    private static string Strip(string html) =>
        System.Text.RegularExpressions.Regex.Replace(html, "(value|content)=\"[A-Za-z0-9_\\-:]{30,}\"", "$1=\"X\"");
}
