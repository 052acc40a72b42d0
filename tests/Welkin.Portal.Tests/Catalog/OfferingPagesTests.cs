using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Catalog;

public sealed class OfferingPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task OfferingsPage_ListsOfferingsWithTheirState_Accessibly()
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("off");
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(prefix + "web"));
        await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "draft one", template.Id));
        await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Storage(prefix + "storage"))).Id);
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync("/provider/offerings");

        var table = page.GetByRole(AriaRole.Table, new() { Name = "Offerings" });
        (await table.GetByRole(AriaRole.Row).Filter(new() { HasText = prefix + "draft one" }).InnerTextAsync()).ShouldContain("draft");
        (await table.GetByRole(AriaRole.Row).Filter(new() { HasText = prefix + "storage" }).InnerTextAsync()).ShouldContain("published");
        (await page.Locator("#off-template").InnerTextAsync()).ShouldContain(prefix + "web, version 1");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("offerings");
    }

    [Fact]
    public async Task CreateOffering_ThenPublish_ShowsItInTheCatalogToAnonymousVisitors()
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("off");
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(prefix + "web"));
        var name = prefix + "compute unit";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/offerings");

        await page.Locator("#off-name").FillAsync(name);
        await page.Locator("#off-description").FillAsync("A server by the month");
        await page.Locator("#off-template").SelectOptionAsync($"{template.Id}/1");
        await page.Locator("#rate1-price").FillAsync("40");
        await page.Locator("#rate2-price").FillAsync("0.13");
        await page.Locator("#rate3-price").FillAsync("0.02");
        await page.Locator("#off-availability").FillAsync("99.95");
        await page.Locator("#off-credit").FillAsync("15");
        await page.Locator("#off-term").FillAsync("12");
        await page.Locator("#off-discount").FillAsync("40");
        await page.Locator("#off-jurisdictions").FillAsync("EU, CH");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create offering" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Created {name} as a draft.");

        var offering = (await admin.OfferingsNamedAsync(name)).ShouldHaveSingleItem();
        offering.State.ShouldBe(OfferingState.Draft);
        var spec = offering.Spec;
        spec.Kind.ShouldBe(OfferingKind.Compute);
        spec.Description.ShouldBe("A server by the month");
        spec.TemplateId.ShouldBe(template.Id);
        spec.TemplateVersion.ShouldBe(1);
        spec.PricePlan.Currency.ShouldBe("USD");
        spec.PricePlan.Rates.Select(r => (r.Metric, r.Unit, r.Price)).ShouldBe([("compute-unit", "unit-month", 40m), ("cpu-hour", "hour", 0.13m), ("memory-gb-hour", "hour", 0.02m)]);
        spec.Sla.AvailabilityPercent.ShouldBe(99.95m);
        spec.Sla.AvailabilityCreditPercent.ShouldBe(15m);
        spec.Terms.ShouldBe(new OfferingTerms(12, 40m));
        spec.LimitUnit.ShouldBe("compute-unit");
        spec.Constraints!.Jurisdictions.ShouldBe(["EU", "CH"]);

        await page.GetByRole(AriaRole.Row).Filter(new() { HasText = name }).GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Published {name}.");
        (await admin.OfferingsNamedAsync(name)).Single().State.ShouldBe(OfferingState.Published);

        await using var visitor = await browser.NewContextAsync(app.Address);
        var anonymous = await visitor.NewPageAsync();
        await anonymous.GotoAsync("/catalog");
        var row = anonymous.GetByRole(AriaRole.Row).Filter(new() { HasText = name });
        (await row.InnerTextAsync()).ShouldContain("99.95 %");
        (await row.InnerTextAsync()).ShouldContain("EU, CH");
    }

    [Fact]
    public async Task EditADraft_ThenWithdrawThePublishedOffering()
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("off");
        var draft = await admin.CreateOfferingAsync(CatalogApi.Storage(prefix + "storage"));
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/offerings");

        await page.GetByRole(AriaRole.Link, new() { Name = "Edit " + draft.Spec.Name }).ClickAsync();
        await page.WaitForURLAsync("**edit=*");
        await page.GetByRole(AriaRole.Heading, new() { Name = "Edit " + draft.Spec.Name }).WaitForAsync();
        (await page.Locator("#off-name").InputValueAsync()).ShouldBe(draft.Spec.Name);
        (await page.Locator("#rate1-metric").InputValueAsync()).ShouldBe("storage-tb-day");
        (await page.Locator("#off-storage-increment").InputValueAsync()).ShouldBe("100");
        await page.Locator("#rate1-price").FillAsync("4.5");
        await page.Locator("#off-name").FillAsync(prefix + "storage edited");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save offering" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Saved {prefix}storage edited.");
        var edited = await admin.GetAsync<OfferingView>($"/api/v1/offerings/{draft.Id}");
        edited.Spec.Name.ShouldBe(prefix + "storage edited");
        edited.Spec.PricePlan.Rates.ShouldHaveSingleItem().Price.ShouldBe(4.5m);
        edited.Spec.Storage.ShouldBe(new StorageSpec(100, 10_000));
        (await page.Locator("#off-name").InputValueAsync()).ShouldBeEmpty(); // the form is a create form again

        await admin.PublishOfferingAsync(draft.Id);
        await page.GotoAsync("/provider/offerings");
        await page.GetByRole(AriaRole.Button, new() { Name = "Withdraw " + prefix + "storage edited" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Withdrew {prefix}storage edited.");
        (await admin.GetAsync<OfferingView>($"/api/v1/offerings/{draft.Id}")).State.ShouldBe(OfferingState.Withdrawn);
    }

    [Fact]
    public async Task CreateOffering_ThatTheApiRefuses_ShowsTheProblem_AndKeepsTheForm()
    {
        var name = CatalogApi.UniquePrefix("off") + "no rates";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/offerings");
        await page.Locator("#off-name").FillAsync(name);
        await page.Locator("#off-availability").FillAsync("99.9");

        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Create offering" }).ClickAsync(),
            r => r.Request.Method == "POST");

        response.Status.ShouldBe(400);
        (await page.GetByRole(AriaRole.Alert).InnerTextAsync()).ShouldNotBeNullOrWhiteSpace();
        (await page.Locator("#off-name").InputValueAsync()).ShouldBe(name);
        (await app.Admin().OfferingsNamedAsync(name)).ShouldBeEmpty();
    }

    [Fact]
    public async Task CreateAndPublishAStorageOffering_WithTheKeyboardOnly()
    {
        var name = CatalogApi.UniquePrefix("off") + "keyboard storage";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/offerings");

        await page.TypeIntoAsync("off-name", name);
        await page.TabToIdAsync("off-kind");
        await page.Keyboard.PressAsync("ArrowDown");
        await page.TypeIntoAsync("off-storage-increment", "100");
        await page.TypeIntoAsync("off-storage-max", "5000");
        await page.TypeIntoAsync("off-limit", "storage-unit");
        await page.TypeIntoAsync("rate1-metric", "storage-tb-day");
        await page.TypeIntoAsync("rate1-unit", "tb-day");
        await page.TypeIntoAsync("rate1-price", "5");
        await page.TypeIntoAsync("off-availability", "99.99");
        await page.TypeIntoAsync("off-term", "0");
        await page.TabToAsync("e.tagName === 'BUTTON' && e.textContent.trim() === 'Create offering'");
        await page.RunAndWaitForResponseAsync(() => page.Keyboard.PressAsync("Enter"), r => r.Request.Method == "POST");
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Created {name} as a draft.");

        await page.TabToAsync($"e.tagName === 'BUTTON' && e.getAttribute('aria-label') === 'Publish {name}'");
        await page.RunAndWaitForResponseAsync(() => page.Keyboard.PressAsync("Enter"), r => r.Request.Method == "POST");
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe($"Published {name}.");

        var offering = (await app.Admin().OfferingsNamedAsync(name)).ShouldHaveSingleItem();
        offering.State.ShouldBe(OfferingState.Published);
        offering.Spec.Kind.ShouldBe(OfferingKind.Storage);
        offering.Spec.Storage.ShouldBe(new StorageSpec(100, 5000));
        offering.Spec.PricePlan.Rates.ShouldHaveSingleItem().ShouldBe(new PriceRate("storage-tb-day", "tb-day", 5m));
        (await app.Anonymous().PublicCatalogAsync(name)).ShouldHaveSingleItem().Id.ShouldBe(offering.Id);
    }
}
