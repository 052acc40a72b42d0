using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Provider;

/// <summary>A cloud whose sign-up waits for the provider's approval.</summary>
public sealed class ApprovalPortalApp : PortalApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Port"] = "0",
        ["Accounts:SignUp"] = "approval",
        ["Accounts:DefaultLimits:compute-unit"] = "2",
        ["Accounts:DefaultLimits:storage-unit"] = "1",
    };
}

/// <summary>
/// A cloud in simulation mode: its clock moves only when advanced. Its periodic works run hourly rather than every
/// minute (nothing here needs finer), so that an advance of a month takes seconds rather than minutes.
/// </summary>
public sealed class VirtualClockPortalApp : PortalApp
{
    public static readonly DateTimeOffset Start = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Port"] = "0",
        ["Welkin:Clock"] = "virtual",
        ["Welkin:ClockStart"] = Start.ToString("o"),
        ["Contracts:SweepInterval"] = "01:00:00",
        ["Scaling:Interval"] = "01:00:00",
        ["Monitoring:Interval"] = "01:00:00",
        ["Sla:Interval"] = "01:00:00",
        ["Metering:Interval"] = "01:00:00",
        ["Jobs:WaitingCheckInterval"] = "01:00:00",
        ["Security:RefusalAuditWindow"] = "05:00:00",
    };
}

/// <summary>What the provider pages' tests repeat: the provider's browser, API reads, a contract to price.</summary>
internal static class OpsTesting
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The provider pages every account person is refused.</summary>
    public static readonly string[] ProviderPages =
        ["/provider/accounts", "/provider/hosts", "/provider/price-plans", "/provider/audit", "/provider/federation", "/provider/clock"];

    /// <summary>A browser context signed in as the provider's administrator (with the cloud's admin token).</summary>
    public static async Task<(IBrowserContext Context, IPage Page)> ProviderAsync(this Browser browser, PortalApp app)
    {
        var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInWithTokenAsync(app.AdminToken);
        return (context, page);
    }

    public static async Task<T> GetJsonAsync<T>(this HttpClient client, string path) =>
        await (await client.GetAsync(path, Ct)).ReadAsync<T>();

    /// <summary>Presses Tab until the focused element satisfies <paramref name="test"/> (a JS predicate on the element).</summary>
    public static async Task TabToAsync(this IPage page, string test, int most = 120)
    {
        for (var i = 0; i < most; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<bool>($"() => {{ const e = document.activeElement; return !!e && ({test}); }}"))
            {
                return;
            }
        }
        throw new InvalidOperationException($"Tab never reached an element where {test}.");
    }

    /// <summary>An account with an active contract for one machine of a fresh compute offering.</summary>
    public static async Task<(SignUpResponse SignUp, ContractView Contract)> ContractAsync(PortalApp app, string prefix)
    {
        var (signUp, client) = await app.SignUpWithPasswordAsync(prefix);
        var admin = app.Admin();
        (await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 4, ["storage-unit"] = 4 }), WelkinJson.Client, Ct)).EnsureSuccessStatusCode();
        var unique = CatalogApi.UniquePrefix(prefix);
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(unique + "template"));
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(unique + "compute", template.Id))).Id);
        var proposed = await (await client.PostAsJsonAsync("/api/v1/contracts",
            new ContractRequest([new ContractItemRequest(offering.Id, 1)], Name: prefix + " web"), WelkinJson.Client, Ct)).ReadAsync<ContractView>(HttpStatusCode.Created);
        var accepted = await (await client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<ContractView>();
        return (signUp, accepted);
    }
}
