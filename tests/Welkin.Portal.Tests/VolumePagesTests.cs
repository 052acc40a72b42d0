using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

public sealed class VolumePagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Volumes_CreateAttachDetachAndDelete_ThroughThePage()
    {
        var tenant = await StorageTenant.CreateAsync(app, "vol", machines: 1);
        var machine = tenant.Machines.ShouldHaveSingleItem();
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync("/volumes");

        await page.Locator("#volume-name").FillAsync("data-1");
        await page.Locator("#volume-size").FillAsync("200");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the volume" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Created the volume data-1." }).WaitForAsync();
        var volume = (await tenant.Api.Volumes.ListAsync(ct: Ct)).Items.ShouldHaveSingleItem();
        (volume.Name, volume.SizeGiB, volume.State).ShouldBe(("data-1", 200L, VolumeState.Available));

        await page.Locator("#attach-volume-id").SelectOptionAsync(volume.Id);
        await page.Locator("#attach-machine").SelectOptionAsync(machine.Id);
        await page.GetByRole(AriaRole.Button, new() { Name = "Attach", Exact = true }).ClickAsync();
        await JobsPage.SucceededAsync(page, tenant.Api);
        var attached = await tenant.Api.Volumes.GetAsync(volume.Id, Ct);
        (attached.State, attached.MachineId).ShouldBe((VolumeState.Attached, machine.Id));

        await page.GotoAsync("/volumes");
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "data-1" });
        (await row.TextContentAsync())!.ShouldContain(machine.Name);
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("volumes");

        await page.GetByRole(AriaRole.Button, new() { Name = "Detach data-1" }).ClickAsync();
        await JobsPage.SucceededAsync(page, tenant.Api);
        (await tenant.Api.Volumes.GetAsync(volume.Id, Ct)).State.ShouldBe(VolumeState.Available);

        await page.GotoAsync("/volumes");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete data-1" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Deleted the volume data-1." }).WaitForAsync();
        (await tenant.Api.Volumes.GetAsync(volume.Id, Ct)).State.ShouldBe(VolumeState.Deleted);
    }

    [Fact]
    public async Task Volumes_ASizeOffTheIncrement_IsRefused_AndNothingIsCreated()
    {
        var tenant = await StorageTenant.CreateAsync(app, "vol");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync("/volumes");

        await page.Locator("#volume-name").FillAsync("odd");
        await page.Locator("#volume-size").FillAsync("150");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the volume" }).ClickAsync();

        await page.GetByRole(AriaRole.Alert).WaitForAsync();
        (await tenant.Api.Volumes.ListAsync(ct: Ct)).Items.ShouldBeEmpty();
        await page.ShouldBeAccessibleAsync();
    }
}

/// <summary>The job page the resource pages send the browser to after starting an operation.</summary>
public static class JobsPage
{
    /// <summary>Waits for the browser to land on /jobs/{id}, for that job to succeed (through the API), and for the page to show it.</summary>
    public static async Task SucceededAsync(IPage page, Welkin.Client.WelkinClient api)
    {
        await page.WaitForURLAsync(url => url.Contains("/jobs/", StringComparison.Ordinal));
        var id = new Uri(page.Url).AbsolutePath.Split('/')[^1];
        var job = await api.WaitAsync(id);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        // The page streams the job's states as they change: it ends on the final one.
        await page.Locator("#job-state").Filter(new() { HasText = "succeeded" }).WaitForAsync();
    }
}
