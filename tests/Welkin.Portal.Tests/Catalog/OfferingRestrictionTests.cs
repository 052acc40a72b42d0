using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Portal.Tests.Compute;

namespace Welkin.Portal.Tests.Catalog;

/// <summary>
/// The offering editor's restrictions: per virtual system of the template version, the values of each choice a
/// consumer may pick and the default, and properties the offering fixes; the API validates them, and refuses a
/// consumer who provisions or resizes outside them.
/// </summary>
public sealed class OfferingRestrictionTests(ComputePortalApp app, Browser browser) : IClassFixture<ComputePortalApp>
{
    private static void ShouldAllow<T>(Choice<T>? choice, T[] allowed, T @default)
    {
        choice.ShouldNotBeNull();
        choice.Allowed.ShouldBe(allowed);
        choice.Default.ShouldBe(@default);
    }

    private static async Task ShowChoicesAsync(IPage page, TemplateView template)
    {
        await page.Locator("#off-template").SelectOptionAsync($"{template.Id}/{template.TemplateVersion}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show the template's choices" }).ClickAsync();
        await page.GetByRole(AriaRole.Group, new() { Name = "Virtual system app" }).WaitForAsync();
    }

    [Fact]
    public async Task AnOfferingIsCreatedWithRestrictions_ThenTheyAreEdited()
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("rst");
        var template = await admin.PublishedTemplateAsync(CatalogApi.FlexibleTemplate(prefix + "template"));
        var name = prefix + "restricted";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/offerings");
        (await page.GetByText("Choose a template version above").CountAsync()).ShouldBe(1);

        await page.Locator("#off-name").FillAsync(name);
        await page.Locator("#rate1-price").FillAsync("40");
        await ShowChoicesAsync(page, template);
        // The form keeps what was typed before the choices were shown.
        (await page.Locator("#off-name").InputValueAsync()).ShouldBe(name);
        (await page.Locator("#rate1-price").InputValueAsync()).ShouldBe("40");
        (await page.GetByRole(AriaRole.Group, new() { Name = "vCPUs allowed for app" }).InnerTextAsync()).ShouldContain("2 (template default)");
        await page.Locator("#r-0-vcpus-0").CheckAsync(); // vCPUs 1
        await page.Locator("#r-0-vcpus-1").CheckAsync(); // vCPUs 2
        await page.GetByLabel("Default vCPUs of app").SelectOptionAsync("1");
        await page.Locator("#r-0-memoryMiB-0").CheckAsync(); // 2048 only
        await page.GetByLabel("Default Operating system of app").SelectOptionAsync("rhel");
        await page.GetByLabel("Fixed value of workers").FillAsync("8");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("offering-restrictions");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create offering" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Created {name} as a draft.");

        var offering = (await admin.OfferingsNamedAsync(name)).ShouldHaveSingleItem();
        var restriction = offering.Spec.Choices.ShouldNotBeNull().ShouldHaveSingleItem();
        restriction.VirtualSystem.ShouldBe("app");
        ShouldAllow(restriction.Vcpus, [1, 2], 1);
        ShouldAllow(restriction.MemoryMiB, [2048], 2048);
        restriction.DiskGiB.ShouldBeNull();
        ShouldAllow(restriction.OperatingSystem, ["debian", "rhel"], "rhel");
        restriction.DatabaseManager.ShouldBeNull();
        restriction.FixedProperties.ShouldNotBeNull().ShouldHaveSingleItem().ShouldBe(new KeyValuePair<string, string>("workers", "8"));

        // Editing shows the restrictions as they are; unticking vCPUs 1 and leaving the default to the template keeps 2.
        await page.GetByRole(AriaRole.Link, new() { Name = "Edit " + name }).ClickAsync();
        await page.GetByRole(AriaRole.Group, new() { Name = "Virtual system app" }).WaitForAsync();
        (await page.Locator("#r-0-vcpus-0").IsCheckedAsync()).ShouldBeTrue();
        (await page.Locator("#r-0-vcpus-2").IsCheckedAsync()).ShouldBeFalse();
        (await page.GetByLabel("Default vCPUs of app").InputValueAsync()).ShouldBe("1");
        (await page.GetByLabel("Fixed value of workers").InputValueAsync()).ShouldBe("8");
        await page.Locator("#r-0-vcpus-0").UncheckAsync();
        await page.GetByLabel("Default vCPUs of app").SelectOptionAsync("");
        await page.GetByLabel("Default Operating system of app").SelectOptionAsync("");
        await page.Locator("#r-0-diskGiB-1").CheckAsync(); // 100 only
        await page.GetByLabel("Fixed value of workers").FillAsync("");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save offering" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Saved {name}.");

        restriction = (await admin.GetAsync<OfferingView>($"/api/v1/offerings/{offering.Id}")).Spec.Choices.ShouldNotBeNull().ShouldHaveSingleItem();
        ShouldAllow(restriction.Vcpus, [2], 2);
        ShouldAllow(restriction.MemoryMiB, [2048], 2048);
        ShouldAllow(restriction.DiskGiB, [100], 100);
        restriction.OperatingSystem.ShouldBeNull();
        restriction.FixedProperties.ShouldBeNull();
    }

    [Fact]
    public async Task ARestrictionTheApiRefuses_IsShownNextToItsField_AndNothingIsCreated()
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("rst");
        var template = await admin.PublishedTemplateAsync(CatalogApi.FlexibleTemplate(prefix + "template"));
        var name = prefix + "refused";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/offerings");
        await page.Locator("#off-name").FillAsync(name);
        await page.Locator("#rate1-price").FillAsync("40");
        await ShowChoicesAsync(page, template);

        await page.Locator("#r-0-vcpus-0").CheckAsync();
        await page.Locator("#r-0-vcpus-1").CheckAsync();
        await page.GetByLabel("Default vCPUs of app").SelectOptionAsync("4"); // not among the ticked values
        await page.GetByLabel("Fixed value of workers").FillAsync("3"); // not one of the property's values
        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Create offering" }).ClickAsync(), r => r.Request.Method == "POST");

        response.Status.ShouldBe(400);
        (await page.GetByRole(AriaRole.Alert).InnerTextAsync()).ShouldContain("choices[0].vcpus");
        var vcpus = page.Locator("fieldset.restriction .choice").Filter(new() { Has = page.Locator("#r-0-vcpus-default") });
        (await vcpus.Locator(".validation-message").InnerTextAsync()).ShouldContain("choices[0].vcpus");
        (await page.Locator("#r-0-p-0").Locator("xpath=..").Locator(".validation-message").InnerTextAsync()).ShouldContain("allowed values");
        // What was ticked is still ticked.
        (await page.Locator("#r-0-vcpus-1").IsCheckedAsync()).ShouldBeTrue();
        (await page.GetByLabel("Default vCPUs of app").InputValueAsync()).ShouldBe("4");
        (await admin.OfferingsNamedAsync(name)).ShouldBeEmpty();
    }

    [Fact]
    public async Task AConsumer_ProvisioningOrResizingOutsideTheRestrictions_IsRefusedWithTheApisMessage()
    {
        var tenant = await ComputeData.TenantAsync(app, "rst");
        var offering = await ComputeData.OfferingAsync(app, "rst"); // app: vCPUs 1 or 2
        var contract = await tenant.ActiveAsync(offering, 3);
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/instances");
        (await page.GetByLabel("vCPUs of app").Locator("option").AllInnerTextsAsync()).ShouldBe(["1", "2"]);
        // A form made for other choices (an old page, or one altered in the browser) asks for 4 vCPUs.
        await page.EvaluateAsync("() => { const o = document.querySelector('#vs-0-vcpus option'); o.value = '4'; o.selected = true; }");
        await page.GetByLabel("Instance name").FillAsync("too-big");
        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Provision", Exact = true }).ClickAsync(), r => r.Request.Method == "POST");
        response.Status.ShouldBe(400);
        (await page.GetByRole(AriaRole.Alert).InnerTextAsync()).ShouldContain("must be one of 1, 2");
        (await tenant.Client.GetAsync<Page<InstanceView>>("/api/v1/instances?limit=100")).Items.ShouldBeEmpty();

        var instance = await tenant.ProvisionedAsync(contract, 1);
        var machine = (await tenant.MachinesAsync(instance.Id)).ShouldHaveSingleItem();
        await page.GotoAsync("/machines/" + machine.Id);
        await page.GetByLabel("vCPUs", new() { Exact = true }).FillAsync("4");
        response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Resize", Exact = true }).ClickAsync(), r => r.Request.Method == "POST");
        response.Status.ShouldBe(400);
        (await page.GetByRole(AriaRole.Alert).InnerTextAsync()).ShouldContain("vcpus must be one of 1, 2");
        (await tenant.MachineAsync(machine.Id)).Vcpus.ShouldBe(1);
    }

    [Fact]
    public async Task AnOfferingWithARestriction_IsCreatedWithTheKeyboardOnly()
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("rst");
        var template = await admin.PublishedTemplateAsync(CatalogApi.FlexibleTemplate(prefix + "template"));
        var name = prefix + "keyboard";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/offerings");

        await page.TypeIntoAsync("off-name", name);
        await page.TabToIdAsync("off-template");
        var wanted = $"{template.Id}/1";
        for (var i = 0; i < 500 && await page.Locator("#off-template").InputValueAsync() != wanted; i++)
        {
            await page.Keyboard.PressAsync("ArrowDown");
        }
        (await page.Locator("#off-template").InputValueAsync()).ShouldBe(wanted);
        await page.TypeIntoAsync("rate1-price", "40");
        await page.TabToAsync("e.tagName === 'BUTTON' && e.textContent.trim() === \"Show the template's choices\"");
        await page.RunAndWaitForResponseAsync(() => page.Keyboard.PressAsync("Enter"), r => r.Request.Method == "POST");
        await page.GetByRole(AriaRole.Group, new() { Name = "Virtual system app" }).WaitForAsync();

        await page.TabToIdAsync("r-0-vcpus-2");
        await page.Keyboard.PressAsync("Space"); // 4 vCPUs only
        await page.TabToIdAsync("r-0-databaseManager-1");
        await page.Keyboard.PressAsync("Space"); // mysql only
        await page.TabToAsync("e.tagName === 'BUTTON' && e.textContent.trim() === 'Create offering'");
        await page.RunAndWaitForResponseAsync(() => page.Keyboard.PressAsync("Enter"), r => r.Request.Method == "POST");
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Created {name} as a draft.");

        var restriction = (await admin.OfferingsNamedAsync(name)).ShouldHaveSingleItem().Spec.Choices.ShouldNotBeNull().ShouldHaveSingleItem();
        ShouldAllow(restriction.Vcpus, [4], 4);
        ShouldAllow(restriction.DatabaseManager, ["mysql"], "mysql");
        restriction.MemoryMiB.ShouldBeNull();
    }
}
