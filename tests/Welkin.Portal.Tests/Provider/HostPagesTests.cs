using Microsoft.Playwright;
using Welkin.Contracts;
using static Welkin.Portal.Tests.Provider.OpsTesting;

namespace Welkin.Portal.Tests.Provider;

public sealed class HostPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task HostsPage_ShowsThePoolsAndEachHostsCapacity()
    {
        var hosts = await app.Admin().GetJsonAsync<List<HostView>>("/api/v1/fabric/hosts");
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync("/provider/hosts");

        var pools = page.GetByRole(AriaRole.Table, new() { Name = "Host pools" });
        foreach (var pool in hosts.Select(h => h.Pool ?? "—").Distinct())
        {
            (await pools.InnerTextAsync()).ShouldContain(pool);
        }
        var table = page.GetByRole(AriaRole.Table, new() { Name = "Hosts", Exact = true });
        foreach (var host in hosts)
        {
            var row = table.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByRole(AriaRole.Rowheader, new() { Name = host.Name, Exact = true }) });
            (await row.InnerTextAsync()).ShouldContain($"of {host.Cores} cores in use");
            (await row.Locator("meter").CountAsync()).ShouldBe(2);
        }
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("hosts");
    }

    [Fact]
    public async Task MarkingAHostDown_AndBringingItBack_ChangesItsState()
    {
        var host = (await app.Admin().GetJsonAsync<List<HostView>>("/api/v1/fabric/hosts")).Last().Name;
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/hosts");
        var row = page.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByRole(AriaRole.Rowheader, new() { Name = host, Exact = true }) });

        await row.GetByLabel($"Why {host} is marked down").FillAsync("disk controller");
        await row.GetByRole(AriaRole.Button, new() { Name = "Mark down" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"{host} is down.");
        (await app.Admin().GetJsonAsync<HostStatusView>($"/api/v1/fabric/hosts/{host}")).Down.ShouldBeTrue();
        (await row.InnerTextAsync()).ShouldContain("down");

        await row.GetByRole(AriaRole.Button, new() { Name = "Bring back up" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"{host} is up.");
        (await app.Admin().GetJsonAsync<HostStatusView>($"/api/v1/fabric/hosts/{host}")).Down.ShouldBeFalse();
    }
}
