using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Compute;

/// <summary>A compute portal cloud with room for more machines than one page of the API holds, for each test (four large hosts), sampled rarely.</summary>
public sealed class ManyMachinesPortalApp : ComputePortalApp
{
    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var settings = base.Settings;
            for (var i = 0; i < 4; i++)
            {
                settings[$"Fabric:Hosts:{i}:Name"] = $"big-{i}";
                settings[$"Fabric:Hosts:{i}:Region"] = "us-east";
                settings[$"Fabric:Hosts:{i}:Jurisdiction"] = "US";
                settings[$"Fabric:Hosts:{i}:Cores"] = "256";
                settings[$"Fabric:Hosts:{i}:MemoryMiB"] = "1048576";
                settings[$"Fabric:Hosts:{i}:DiskGiB"] = "20000";
            }
            settings["Monitoring:Interval"] = "00:10:00";
            return settings;
        }
    }
}

/// <summary>The machines page reads as many pages of the API as its limit needs (the API's pages hold 500 at most).</summary>
public sealed class ManyMachinesTests(ManyMachinesPortalApp app, Browser browser) : IClassFixture<ManyMachinesPortalApp>
{
    private const int Machines = 510;

    [Fact]
    public async Task MoreMachinesThanOneApiPage_AreShownOnOnePage_AndTheNextLinkLeadsOn_KeepingTheFilter()
    {
        var (tenant, ids) = await ManyAsync("many");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;
        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Machines" }).Locator("tbody tr");

        await page.GotoAsync("/machines?limit=1000");
        (await page.Locator("#machine-count").TextContentAsync()).ShouldBe($"{Machines} machines on this page.");
        (await rows.CountAsync()).ShouldBe(Machines);
        (await HrefsAsync(page)).ShouldBe(ids, ignoreOrder: true);
        (await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).CountAsync()).ShouldBe(0);

        // 505 a page: the API's first page and five of its second, then the next link reads on from there.
        await page.GotoAsync("/machines?state=running&limit=505");
        (await rows.CountAsync()).ShouldBe(505);
        var first = await HrefsAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).ClickAsync();
        await page.WaitForURLAsync("**/machines?state=running&limit=505&after=*");
        await page.Locator("#machine-count").Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex("^5 machines on this page") }).WaitForAsync();
        var second = await HrefsAsync(page);
        second.Count.ShouldBe(Machines - 505);
        first.Concat(second).ShouldBe(ids, ignoreOrder: true);
        (await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).CountAsync()).ShouldBe(0);
        await page.ShouldBeAccessibleAsync();

        // The dashboards count a page of each state at most: 100 and more is "100+".
        await page.GotoAsync("/");
        (await RunningAsync(page)).ShouldBe("100+");
        await using var provider = await browser.NewContextAsync(app.Address);
        var operatorPage = await provider.NewPageAsync();
        await operatorPage.SignInWithTokenAsync(app.AdminToken);
        await operatorPage.GotoAsync("/");
        (await RunningAsync(operatorPage)).ShouldBe("100+");
        (await operatorPage.GetByRole(AriaRole.List, new() { Name = "Contracts by state" }).InnerTextAsync()).ShouldContain("active");
    }

    private static Task<string> RunningAsync(IPage page) =>
        page.GetByRole(AriaRole.List, new() { Name = "Machines by state" }).Locator("li", new() { HasText = "running" }).Locator("strong").InnerTextAsync();

    [Fact]
    public async Task FilteringAndPaging_WithTheKeyboardOnly()
    {
        var (tenant, ids) = await ManyAsync("keys");
        var (context, page) = await browser.SignedInAsync(app, tenant.Name, "/machines");
        await using var _ = context;
        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Machines" }).Locator("tbody tr");

        await TabToAsync(page, "machine-state");
        await page.Keyboard.TypeAsync("running");
        await TabToAsync(page, "machine-limit");
        await page.Keyboard.TypeAsync("500");
        await page.Keyboard.PressAsync("Tab");
        (await page.EvaluateAsync<string>("() => document.activeElement.textContent")).ShouldBe("Filter");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/machines?state=running&limit=500");
        (await rows.CountAsync()).ShouldBe(500);

        // The next link is the page's last: backwards from the top, past none of the 500 rows' links.
        await TabToAsync(page, "", "Next page", "Shift+Tab");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/machines?state=running&limit=500&after=*");
        await page.Locator("#machine-count").Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex("^10 machines on this page") }).WaitForAsync();
        (await rows.CountAsync()).ShouldBe(Machines - 500);
        (await HrefsAsync(page)).ShouldBeSubsetOf(ids);
    }

    [Fact]
    public async Task AnotherAccountsCursor_ShowsNothingOfTheirs()
    {
        var (victim, ids) = await ManyAsync("victim");
        var cursor = (await (await victim.Client.GetAsync("/api/v1/machines?limit=10", TestContext.Current.CancellationToken)).ReadAsync<Page<MachineView>>()).Next;
        cursor.ShouldNotBeNull();
        var attacker = await ComputeData.TenantAsync(app, "attacker");
        var (context, page) = await browser.SignedInAsync(app, attacker);
        await using var _ = context;

        var response = await page.GotoAsync("/machines?limit=1000&after=" + Uri.EscapeDataString(cursor));
        response!.Status.ShouldBeOneOf((int)HttpStatusCode.OK, (int)HttpStatusCode.BadRequest);
        var html = await page.ContentAsync();
        ids.ShouldAllBe(id => !html.Contains(id, StringComparison.Ordinal));
        html.ShouldNotContain("victim-many");
    }

    private async Task<(Tenant Tenant, List<string> Ids)> ManyAsync(string prefix)
    {
        var tenant = await ComputeData.TenantAsync(app, prefix);
        await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{tenant.AccountId}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 10_000, ["storage-unit"] = 40 }), WelkinJson.Client, TestContext.Current.CancellationToken))
            .ReadAsync<AccountView>();
        var offering = await ComputeData.OfferingAsync(app);
        var contract = await tenant.ActiveAsync(offering, Machines);
        // An instance has at most 100 machines of a virtual system: six instances of 85, provisioned side by side.
        var instances = await Task.WhenAll(Enumerable.Range(0, Machines / 85).Select(i => tenant.ProvisionedAsync(contract, 85, $"{prefix}-many-{i}")));
        var ids = instances.SelectMany(i => i.Machines).Select(m => "/machines/" + m).ToList();
        ids.Count.ShouldBe(Machines);
        return (tenant, ids);
    }

    /// <summary>Presses Tab until the element with <paramref name="id"/> (or, with no id, the one whose text is <paramref name="text"/>) has the focus.</summary>
    private static async Task TabToAsync(IPage page, string id, string? text = null, string key = "Tab")
    {
        for (var i = 0; i < 60; i++)
        {
            await page.Keyboard.PressAsync(key);
            var focused = await page.EvaluateAsync<string[]>("() => [document.activeElement.id, document.activeElement.textContent.trim()]");
            if (id.Length > 0 ? focused[0] == id : focused[1] == text)
            {
                return;
            }
        }
        throw new ShouldAssertException($"Tab never reached {(id.Length > 0 ? "#" + id : text)}");
    }

    private static async Task<List<string>> HrefsAsync(IPage page) =>
        [.. (await page.GetByRole(AriaRole.Table, new() { Name = "Machines" }).Locator("tbody tr td:first-child a")
            .EvaluateAllAsync<string[]>("links => links.map(a => a.getAttribute('href'))"))];
}
