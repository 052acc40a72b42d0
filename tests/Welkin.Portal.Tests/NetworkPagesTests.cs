using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

public sealed class NetworkPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Networks_CreateConnectDisconnectAndDelete_ThroughThePage()
    {
        var tenant = await StorageTenant.CreateAsync(app, "net", machines: 1);
        var machine = tenant.Machines.ShouldHaveSingleItem();
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync("/networks");

        await page.Locator("#network-name").FillAsync("backend");
        await page.Locator("#network-cidr").FillAsync("10.8.0.0/24");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the network" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Created the network backend." }).WaitForAsync();
        var network = (await tenant.Api.Networks.ListAsync(ct: Ct)).Items.ShouldHaveSingleItem();
        (network.Name, network.Cidr).ShouldBe(("backend", "10.8.0.0/24"));

        await page.Locator("#connect-network").SelectOptionAsync(network.Id);
        await page.Locator("#connect-machine-id").SelectOptionAsync(machine.Id);
        await page.GetByRole(AriaRole.Button, new() { Name = "Connect", Exact = true }).ClickAsync();
        await JobsPage.SucceededAsync(page, tenant.Api);
        var connected = (await tenant.Api.Networks.GetAsync(network.Id, Ct)).Attachments.ShouldHaveSingleItem();
        connected.MachineId.ShouldBe(machine.Id);

        await page.GotoAsync("/networks");
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "backend" });
        (await row.TextContentAsync())!.ShouldContain($"{machine.Name} · {connected.Address}");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("networks");

        await page.GetByRole(AriaRole.Button, new() { Name = $"Disconnect {machine.Name} from backend" }).ClickAsync();
        await JobsPage.SucceededAsync(page, tenant.Api);
        (await tenant.Api.Networks.GetAsync(network.Id, Ct)).Attachments.ShouldBeEmpty();

        await page.GotoAsync("/networks");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete backend" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Deleted the network backend." }).WaitForAsync();
        (await tenant.Api.Networks.GetAsync(network.Id, Ct)).State.ShouldBe(NetworkState.Deleted);
    }
}
