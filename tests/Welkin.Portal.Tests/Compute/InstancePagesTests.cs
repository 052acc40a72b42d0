using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Compute;

public sealed class InstancePagesTests(ComputePortalApp app, Browser browser) : IClassFixture<ComputePortalApp>
{
    [Fact]
    public async Task TheInstancesPage_ProvisionsWithTheOfferingsChoices_AndFollowsTheJob()
    {
        var tenant = await ComputeData.TenantAsync(app, "ins");
        var offering = await ComputeData.OfferingAsync(app);
        var other = await tenant.ActiveAsync(offering, 1, "other contract");
        var contract = await tenant.ActiveAsync(offering, 3, "shop contract");
        await tenant.ProvisionedAsync(other, 1, "existing-instance");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/instances");
        (await page.GetByRole(AriaRole.Table, new() { Name = "Instances" }).InnerTextAsync()).ShouldContain("existing-instance");
        await page.GetByLabel("Contract", new() { Exact = true }).SelectOptionAsync($"{contract.Id}:0");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show its choices" }).ClickAsync();
        await page.WaitForURLAsync("**/instances?line=*");
        (await page.Locator("form p strong").InnerTextAsync()).ShouldStartWith("shop contract");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("instances");

        await page.GetByLabel("Instance name").FillAsync("web-shop");
        await page.GetByLabel("Machines of app").FillAsync("2");
        await page.GetByLabel("vCPUs of app").SelectOptionAsync("2");
        await page.GetByLabel("Memory (MiB) of app").SelectOptionAsync("4096");
        (await page.ClickToJobAsync("Provision")).ShouldBe("succeeded");
        await page.GetByRole(AriaRole.Link, new() { Name = "Back" }).ClickAsync();
        await page.WaitForURLAsync("**/instances/ins_*");

        var instance = await tenant.InstanceAsync(page.Url.Split('/')[^1]);
        instance.Name.ShouldBe("web-shop");
        instance.ContractId.ShouldBe(contract.Id);
        var machines = await tenant.MachinesAsync(instance.Id);
        machines.Count.ShouldBe(2);
        machines.ShouldAllBe(m => m.Vcpus == 2 && m.MemoryMiB == 4096 && m.State == MachineState.Running);
        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Machines of the instance" }).Locator("tbody tr");
        await rows.Nth(1).WaitForAsync();
        (await rows.CountAsync()).ShouldBe(2);
    }

    [Fact]
    public async Task WithoutAnActiveContract_ThePageSaysHowToGetOne()
    {
        var tenant = await ComputeData.TenantAsync(app, "ins");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/instances");
        (await page.GetByText("No active contract has a compute line.").CountAsync()).ShouldBe(1);
        (await page.GetByRole(AriaRole.Button, new() { Name = "Provision" }).CountAsync()).ShouldBe(0);
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task AnInstance_IsScaled_ThenTerminatedOnlyWhenConfirmed()
    {
        var tenant = await ComputeData.TenantAsync(app, "ins");
        var offering = await ComputeData.OfferingAsync(app);
        var contract = await tenant.ActiveAsync(offering, 3);
        var instance = await tenant.ProvisionedAsync(contract, 1, "scaled");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/instances/" + instance.Id);
        (await page.Locator("h1").TextContentAsync()).ShouldBe("Instance scaled");
        await page.ShouldBeAccessibleAsync();
        await page.GetByLabel("Virtual system").SelectOptionAsync("app");
        await page.GetByLabel("Machines", new() { Exact = true }).FillAsync("3");
        (await page.ClickToJobAsync("Scale")).ShouldBe("succeeded");
        (await tenant.MachinesAsync(instance.Id)).Count(m => m.State == MachineState.Running).ShouldBe(3);

        await page.GotoAsync("/instances/" + instance.Id);
        (await page.GetByRole(AriaRole.Table, new() { Name = "Machines of the instance" }).Locator("tbody tr").CountAsync()).ShouldBe(3);
        await page.GetByRole(AriaRole.Button, new() { Name = "Terminate", Exact = true }).ClickAsync();
        (await page.GetByRole(AriaRole.Alert).InnerTextAsync()).ShouldContain("Confirm the termination");
        (await tenant.InstanceAsync(instance.Id)).State.ShouldBe(InstanceState.Active);

        await page.GetByLabel("I understand: terminate this instance and its machines").CheckAsync();
        (await page.ClickToJobAsync("Terminate")).ShouldBe("succeeded");
        (await tenant.InstanceAsync(instance.Id)).State.ShouldBe(InstanceState.Terminated);
    }
}
