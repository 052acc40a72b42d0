using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Welkin.Compute.Simulated;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Testing;

namespace Welkin.Portal.Tests.Compute;

public sealed class MachinePagesTests(ComputePortalApp app, Browser browser) : IClassFixture<ComputePortalApp>
{
    [Fact]
    public async Task TheMachinesPage_FiltersByState_AndPagesWithANextLink()
    {
        var tenant = await ComputeData.TenantAsync(app, "mch");
        var offering = await ComputeData.OfferingAsync(app);
        var contract = await tenant.ActiveAsync(offering, 3);
        var instance = await tenant.ProvisionedAsync(contract, 3);
        var stopped = instance.Machines[1];
        await tenant.ActAsync(stopped, "stop");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/machines");
        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Machines" }).Locator("tbody tr");
        (await rows.CountAsync()).ShouldBe(3);
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("machines");

        await page.GetByLabel("Per page").SelectOptionAsync("25");
        await page.GetByLabel("State").SelectOptionAsync("inactive");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await page.WaitForURLAsync("**/machines?state=inactive&limit=25");
        (await rows.CountAsync()).ShouldBe(1);
        (await rows.First.Locator("a").GetAttributeAsync("href")).ShouldBe("/machines/" + stopped);

        await page.GotoAsync("/machines?limit=2");
        (await rows.CountAsync()).ShouldBe(2);
        var firstPage = await rows.AllTextContentsAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).ClickAsync();
        await page.WaitForURLAsync("**/machines?limit=2&after=*");
        await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).WaitForAsync(new() { State = WaitForSelectorState.Detached });
        (await rows.CountAsync()).ShouldBe(1);
        firstPage.ShouldNotContain((await rows.AllTextContentsAsync()).Single());
        (await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task TheMachinePage_StopsAndStartsTheMachine_ThroughTheJobPage()
    {
        var (tenant, id) = await ComputeData.OneMachineAsync(app, "mch");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        var failed = new List<string>();
        page.Response += (_, r) =>
        {
            if (r.Status >= 400)
            {
                failed.Add($"{r.Status} {r.Url}");
            }
        };
        await page.GotoAsync("/machines/" + id);
        (await page.Locator("#machine-state").TextContentAsync()).ShouldBe("running");
        failed.ShouldBeEmpty("the stylesheet and blazor.web.js load on a nested path");
        (await page.Locator("pre.console").TextContentAsync()).ShouldNotBeNullOrWhiteSpace();
        (await page.GetByRole(AriaRole.Button, new() { Name = "Start", Exact = true }).CountAsync()).ShouldBe(0);
        await page.ShouldBeAccessibleAsync();

        (await page.ClickToJobAsync("Stop")).ShouldBe("succeeded");
        (await tenant.MachineAsync(id)).State.ShouldBe(MachineState.Inactive);
        await page.GetByRole(AriaRole.Link, new() { Name = "Back" }).ClickAsync();
        await page.WaitForURLAsync("**/machines/" + id);
        await page.Locator("#machine-state").Filter(new() { HasText = "inactive" }).WaitForAsync();
        (await page.ClickToJobAsync("Start")).ShouldBe("succeeded");
        (await tenant.MachineAsync(id)).State.ShouldBe(MachineState.Running);
    }

    [Fact]
    public async Task TheMachinePage_ListsItsDataDisks_InTheOrderTheGuestHasThem_AndAResizeKeepsThem()
    {
        var tenant = await ComputeData.TenantAsync(app, "mdd");
        var offering = await ComputeData.OfferingAsync(app, dataVolumes:
            [new DataVolumeSpec("data", new Choice<long>([10, 20], 10)), new DataVolumeSpec("logs", new Choice<long>([0, 5], 5))]);
        var id = (await tenant.ProvisionedAsync(await tenant.ActiveAsync(offering, 1))).Machines.Single();
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/machines/" + id);

        var disks = page.Locator("#machine-data-disks div");
        (await disks.AllTextContentsAsync()).ShouldBe(["data: 10 GiB on vdb, empty at start", "logs: 5 GiB on vdc, empty at start"]);
        await page.ShouldBeAccessibleAsync();
        await page.GetByLabel("vCPUs").FillAsync("2");
        (await page.ClickToJobAsync("Resize")).ShouldBe("succeeded");
        await page.GotoAsync("/machines/" + id);
        (await tenant.MachineAsync(id)).Vcpus.ShouldBe(2);
        (await disks.AllTextContentsAsync()).ShouldBe(["data: 10 GiB on vdb, empty at start", "logs: 5 GiB on vdc, empty at start"]);
    }

    [Fact]
    public async Task TheMachinePage_PausesResumesRebootsResizesAndDestroys()
    {
        var (tenant, id) = await ComputeData.OneMachineAsync(app, "mch");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/machines/" + id);
        (await page.ClickToJobAsync("Pause")).ShouldBe("succeeded");
        (await tenant.MachineAsync(id)).State.ShouldBe(MachineState.Paused);
        await page.GotoAsync("/machines/" + id);
        (await page.ClickToJobAsync("Resume")).ShouldBe("succeeded");
        (await tenant.MachineAsync(id)).State.ShouldBe(MachineState.Running);
        await page.GotoAsync("/machines/" + id);
        (await page.ClickToJobAsync("Reboot")).ShouldBe("succeeded");
        (await tenant.MachineAsync(id)).State.ShouldBe(MachineState.Running);

        await page.GotoAsync("/machines/" + id);
        await page.GetByLabel("vCPUs").FillAsync("2");
        await page.GetByLabel("Memory (MiB)").FillAsync("4096");
        (await page.ClickToJobAsync("Resize")).ShouldBe("succeeded");
        var resized = await tenant.MachineAsync(id);
        (resized.Vcpus, resized.MemoryMiB).ShouldBe((2, 4096L));

        await page.GotoAsync("/machines/" + id);
        await page.GetByLabel("vCPUs").FillAsync("3");
        await page.GetByRole(AriaRole.Button, new() { Name = "Resize" }).ClickAsync();
        await page.GetByRole(AriaRole.Alert).WaitForAsync();
        (await tenant.MachineAsync(id)).Vcpus.ShouldBe(2);

        await page.GotoAsync("/machines/" + id);
        (await page.ClickToJobAsync("Destroy")).ShouldBe("succeeded");
        (await tenant.MachineAsync(id)).State.ShouldBe(MachineState.Terminated);
    }

    [Fact]
    public async Task TheMachinePage_ChartsAMetric_WithATable()
    {
        var (tenant, id) = await ComputeData.OneMachineAsync(app, "mch");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await Polling.UntilAsync(async () => (await (await tenant.Client.GetAsync($"/api/v1/machines/{id}/measurements?metric=memory-used-bytes",
                TestContext.Current.CancellationToken)).ReadAsync<MeasurementSeriesView>()).Points.Count >= 1,
            "a sample of the machine", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));

        await page.GotoAsync("/machines/" + id);
        await page.GetByLabel("Metric").SelectOptionAsync("memory-used-bytes");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await page.WaitForURLAsync("**/machines/" + id + "?metric=memory-used-bytes");
        var section = page.Locator("section[aria-labelledby=measurements]");
        (await section.InnerTextAsync()).ShouldContain("memory-used-bytes in ");
        (await section.Locator("svg.chart[role=img] polyline").CountAsync()).ShouldBe(1);
        (await section.GetByRole(AriaRole.Table, new() { Name = "Measurements of memory-used-bytes" }).Locator("tbody tr").CountAsync()).ShouldBeGreaterThanOrEqualTo(1);
        await page.ScreenshotAsync("machine");
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task AFailedMachine_IsAcknowledgedByTheProvider_NotByTheConsumer()
    {
        var (tenant, id) = await ComputeData.OneMachineAsync(app, "mch");
        var driver = (SimulatedDriver)app.Services.GetRequiredService<ComputeFabric>().Pools.Single().Driver;
        driver.CrashMachine(id).ShouldBeTrue();
        await Polling.UntilAsync(async () => (await tenant.MachineAsync(id)).State == MachineState.Error, "the machine fails",
            TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(20));

        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using (context)
        {
            await page.GotoAsync("/machines/" + id);
            (await page.Locator("#machine-state").TextContentAsync()).ShouldBe("error");
            (await page.GetByRole(AriaRole.Button, new() { Name = "Start", Exact = true }).CountAsync()).ShouldBe(1);
            (await page.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" }).CountAsync()).ShouldBe(0);
        }

        await using var provider = await browser.NewContextAsync(app.Address);
        var operatorPage = await provider.NewPageAsync();
        await operatorPage.SignInWithTokenAsync(app.AdminToken);
        await operatorPage.GotoAsync("/machines/" + id);
        await operatorPage.ShouldBeAccessibleAsync();
        await operatorPage.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" }).ClickAsync();
        await operatorPage.GetByRole(AriaRole.Status).Filter(new() { HasText = "Incident acknowledged." }).WaitForAsync();
        (await app.Admin().AuditAsync()).ShouldContain(e => e.Action == "sla.incident-acknowledge" && e.Target == id);
    }
}
