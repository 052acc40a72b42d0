using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

/// <summary>Data the money pages show, made through the API: a tenant with limits and an active contract, an issued invoice.</summary>
public static class MoneyData
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A tenant (admin "admin" with <see cref="PortalApp.Password"/>) whose limits are set, with an active contract of 2 compute units.</summary>
    public sealed record Tenant(SignUpResponse SignUp, HttpClient Client, ContractView Contract, OfferingView Offering)
    {
        public string AccountId => SignUp.Account.Id;

        public string AccountName => SignUp.Account.Name;
    }

    public static async Task<Tenant> TenantAsync(PortalApp app, string prefix)
    {
        var (signUp, client) = await app.SignUpWithPasswordAsync(prefix);
        await SetLimitsAsync(app, signUp.Account.Id, 10, 100);
        var admin = app.Admin();
        var name = CatalogApi.UniquePrefix(prefix);
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(name + "template"));
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(name + "small", template.Id))).Id);
        var proposed = await (await client.PostAsJsonAsync("/api/v1/contracts",
            new ContractRequest([new ContractItemRequest(offering.Id, 2)], Name: prefix + " web"), WelkinJson.Client, Ct)).ReadAsync<ContractView>(HttpStatusCode.Created);
        var contract = await (await client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<ContractView>();
        return new Tenant(signUp, client, contract, offering);
    }

    public static async Task SetLimitsAsync(PortalApp app, string accountId, long computeUnits, long storageUnits) =>
        await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{accountId}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = computeUnits, ["storage-unit"] = storageUnits }), WelkinJson.Client, Ct))
            .ReadAsync<AccountView>();

    /// <summary>The invoice preview of the current period; reading it brings the meter up to now, so usage shows what the contract held so far.</summary>
    public static async Task<InvoiceView> PreviewAsync(HttpClient client, string accountId) =>
        await (await client.GetAsync($"/api/v1/accounts/{accountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();

    /// <summary>
    /// Issues the account's invoice of the month before the server's clock as the provider. An account that did not exist then
    /// gets an invoice with no line: its number, period, totals and documents are still what the pages show.
    /// </summary>
    public static async Task<InvoiceView> IssueLastMonthAsync(PortalApp app, string accountId)
    {
        var now = (await (await app.Admin().GetAsync("/api/v1/clock", Ct)).ReadAsync<ClockView>()).Now;
        var period = new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(-1).ToString("yyyy-MM", CultureInfo.InvariantCulture);
        return await IssueAsync(app, accountId, period);
    }

    /// <summary>Issues the account's invoice of <paramref name="period"/> ("2026-10") as the provider, or reads it when invoicing issued it already.</summary>
    public static async Task<InvoiceView> IssueAsync(PortalApp app, string accountId, string period)
    {
        var admin = app.Admin();
        var response = await admin.PostAsJsonAsync($"/api/v1/accounts/{accountId}/invoices", new IssueInvoiceRequest(period), WelkinJson.Client, Ct);
        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            var list = await (await admin.GetAsync($"/api/v1/accounts/{accountId}/invoices", Ct)).ReadAsync<Page<InvoiceSummaryView>>();
            var id = list.Items.Single(i => i.Period == period).Id;
            return await (await admin.GetAsync($"/api/v1/invoices/{id}", Ct)).ReadAsync<InvoiceView>();
        }
        return await response.ReadAsync<InvoiceView>(HttpStatusCode.Created);
    }

    /// <summary>Signs in with an API token straight to <paramref name="path"/> (the provider's dashboard, summing up the whole cloud, is skipped).</summary>
    public static async Task SignInWithTokenToAsync(this Microsoft.Playwright.IPage page, string token, string path)
    {
        await page.GotoAsync("/sign-in?returnUrl=" + Uri.EscapeDataString(path));
        await page.Locator("#token").FillAsync(token);
        await page.GetByRole(Microsoft.Playwright.AriaRole.Button, new() { Name = "Sign in with the token" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/sign-in", StringComparison.Ordinal));
    }

    /// <summary>A well-formed id nobody holds (the alphabet's first letter after the prefix keeps it valid).</summary>
    public static string UnknownId(string prefix) => prefix + "_0" + new string('0', 25);
}
