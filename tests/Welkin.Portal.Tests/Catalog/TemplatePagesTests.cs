using System.Net;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Catalog;

public sealed class TemplatePagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task TemplatesPage_ListsTemplates_AndTheTemplatePageShowsVersionsAndSystems_Accessibly()
    {
        var name = CatalogApi.UniquePrefix("tpl") + "listed";
        var template = await app.Admin().CreateTemplateAsync(CatalogApi.FlexibleTemplate(name));
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync("/provider/templates");
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = name });
        (await row.InnerTextAsync()).ShouldContain("draft");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("templates");

        await row.GetByRole(AriaRole.Link, new() { Name = name }).ClickAsync();
        await page.WaitForURLAsync($"**/provider/templates/{template.Id}");
        await page.GetByRole(AriaRole.Heading, new() { Name = name, Level = 1 }).WaitForAsync();
        var systems = await page.GetByRole(AriaRole.Table, new() { Name = "Virtual systems of version 1" }).InnerTextAsync();
        systems.ShouldContain("app");
        systems.ShouldContain("1, 2, 4 (default 2)");
        systems.ShouldContain("postgresql");
        (await page.Locator("#template-json").InputValueAsync()).ShouldContain("\"workers\"");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("template");
    }

    [Fact]
    public async Task TemplatePage_ShowsAPasswordPropertyAsSuch_AndNeverItsDefault()
    {
        const string secret = "changeme-Portal-71c2";
        var name = CatalogApi.UniquePrefix("tpl") + "secret";
        var spec = CatalogApi.Template(name);
        var template = await app.Admin().CreateTemplateAsync(spec with
        {
            VirtualSystems = [spec.VirtualSystems[0] with { Properties = [new PropertyDefinition("root_password", PropertyType.String, secret, "Root password", Password: true)] }],
        });
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync($"/provider/templates/{template.Id}");

        var systems = await page.GetByRole(AriaRole.Table, new() { Name = "Virtual systems of version 1" }).InnerTextAsync();
        systems.ShouldContain("root_password (password, not shown)");
        (await page.Locator("#template-json").InputValueAsync()).ShouldContain("\"password\": true");
        (await page.ContentAsync()).ShouldNotContain(secret);
    }

    [Fact]
    public async Task CreateTemplate_FromTheForm_MakesADraftWithTheVirtualSystemAndImage()
    {
        var admin = app.Admin();
        var imageName = CatalogApi.UniquePrefix("img") + "base";
        var image = await ImagePagesTests.UploadAsync(admin, imageName);
        var name = CatalogApi.UniquePrefix("tpl") + "from form";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync("/provider/templates");
        await page.Locator("#tpl-name").FillAsync(name);
        await page.Locator("#tpl-description").FillAsync("Made in the portal");
        await page.Locator("#tpl-system").FillAsync("api");
        await page.Locator("#tpl-vcpus").FillAsync("4, 2, 8");
        await page.Locator("#tpl-memory").FillAsync("8192");
        await page.Locator("#tpl-disk").FillAsync("40, 80");
        await page.Locator("#tpl-os").FillAsync("debian, alpine");
        await page.Locator("#tpl-image").SelectOptionAsync(image.Id);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create template" }).ClickAsync();
        await page.WaitForURLAsync("**/provider/templates/*?created=1");

        (await page.GetByRole(AriaRole.Status).TextContentAsync())!.ShouldContain("Created");
        var id = new Uri(page.Url).AbsolutePath.Split('/').Last();
        var made = await admin.GetAsync<TemplateView>($"/api/v1/templates/{id}");
        made.Name.ShouldBe(name);
        made.State.ShouldBe(TemplateState.Draft);
        made.Description.ShouldBe("Made in the portal");
        var system = made.VirtualSystems.ShouldHaveSingleItem();
        system.Name.ShouldBe("api");
        system.Hardware.Vcpus.ShouldBe(new Choice<int>([4, 2, 8], 4), new ChoiceComparer<int>());
        system.Hardware.MemoryMiB.Allowed.ShouldBe([8192L]);
        system.Hardware.DiskGiB.Allowed.ShouldBe([40L, 80L]);
        system.Software!.OperatingSystem!.Default.ShouldBe("debian");
        system.ImageId.ShouldBe(image.Id);
        (await page.GetByRole(AriaRole.Table, new() { Name = "Virtual systems of version 1" }).InnerTextAsync()).ShouldContain(imageName);
    }

    [Fact]
    public async Task CreateTemplate_FromTheForm_WithAWordForVcpus_SaysWhichFieldIsWrong()
    {
        var name = CatalogApi.UniquePrefix("tpl") + "bad";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/templates");
        await page.Locator("#tpl-name").FillAsync(name);
        await page.Locator("#tpl-vcpus").FillAsync("two");

        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Create template" }).ClickAsync(),
            r => r.Request.Method == "POST");

        response.Status.ShouldBe(400);
        (await page.GetByRole(AriaRole.Alert).InnerTextAsync()).ShouldContain("vcpus: 'two' is not a whole number.");
        (await app.Admin().GetAsync<Page<TemplateView>>("/api/v1/templates?namePrefix=" + Uri.EscapeDataString(name))).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task CreateTemplate_FromJson_ShowsTheApisFieldErrors_ThenCreatesTwoTiers()
    {
        var name = CatalogApi.UniquePrefix("tpl") + "json";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/templates");

        var invalid = System.Text.Json.JsonSerializer.Serialize(new TemplateSpec(name, []), WelkinJson.Client);
        await page.Locator("#template-json").FillAsync(invalid);
        var refused = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Create from JSON" }).ClickAsync(),
            r => r.Request.Method == "POST");
        refused.Status.ShouldBe(400);
        var alert = await page.GetByRole(AriaRole.Alert).InnerTextAsync();
        alert.ShouldContain("virtualSystems", Case.Insensitive);

        await page.Locator("#template-json").FillAsync("{ \"name\": ");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create from JSON" }).ClickAsync();
        (await page.GetByRole(AriaRole.Alert).InnerTextAsync()).ShouldContain("The JSON cannot be read");

        (await page.Locator("#template-json").InputValueAsync()).ShouldBe("{ \"name\": "); // the textarea keeps what was posted
        var valid = System.Text.Json.JsonSerializer.Serialize(CatalogApi.Template(name) with
        {
            VirtualSystems = [.. CatalogApi.Template(name).VirtualSystems, CatalogApi.FlexibleTemplate(name).VirtualSystems[0]],
        }, WelkinJson.Client);
        await page.Locator("#template-json").FillAsync(valid);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create from JSON" }).ClickAsync();
        await page.WaitForURLAsync("**/provider/templates/*?created=1");

        var id = new Uri(page.Url).AbsolutePath.Split('/').Last();
        var made = await app.Admin().GetAsync<TemplateView>($"/api/v1/templates/{id}");
        made.VirtualSystems.Select(v => v.Name).ShouldBe(["web", "app"]);
        made.VirtualSystems[0].Properties!.Select(p => p.Key).ShouldContain("admin.email");
    }

    [Fact]
    public async Task TemplatePage_PublishesAVersion_StartsTheNext_FromTheFormAndFromJson_AndRetires()
    {
        var admin = app.Admin();
        var name = CatalogApi.UniquePrefix("tpl") + "versions";
        var template = await admin.CreateTemplateAsync(CatalogApi.Template(name));
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync($"/provider/templates/{template.Id}");

        await page.GetByRole(AriaRole.Button, new() { Name = "Publish version 1" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Published version 1.");
        (await admin.GetAsync<TemplateView>($"/api/v1/templates/{template.Id}")).State.ShouldBe(TemplateState.Published);

        (await page.Locator("#tpl-vcpus").InputValueAsync()).ShouldBe("2");
        await page.Locator("#tpl-vcpus").FillAsync("8");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start the new version" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Started a new version as a draft.");
        var second = await admin.GetAsync<TemplateView>($"/api/v1/templates/{template.Id}");
        second.TemplateVersion.ShouldBe(2);
        second.State.ShouldBe(TemplateState.Draft);
        second.VirtualSystems[0].Hardware.Vcpus.Default.ShouldBe(8);

        // The JSON editor replaces the draft in place.
        var json = await page.Locator("#template-json").InputValueAsync();
        json.ShouldContain("\"vcpus\"");
        await page.Locator("#template-json").FillAsync(json.Replace("A test template", "Edited as JSON", StringComparison.Ordinal));
        await page.Locator("#json-apply").SelectOptionAsync("true");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save the JSON" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Saved the draft version 2.");
        var edited = await admin.GetAsync<TemplateView>($"/api/v1/templates/{template.Id}");
        edited.TemplateVersion.ShouldBe(2);
        edited.Description.ShouldBe("Edited as JSON");

        await page.GetByRole(AriaRole.Button, new() { Name = "Retire version 1" }).ClickAsync();
        (await page.GetByRole(AriaRole.Status).TextContentAsync()).ShouldBe("Retired version 1.");
        (await admin.GetAsync<TemplateView>($"/api/v1/templates/{template.Id}/versions/1")).State.ShouldBe(TemplateState.Retired);

        await page.GetByRole(AriaRole.Link, new() { Name = "Version 1" }).ClickAsync();
        await page.WaitForURLAsync("**?version=1");
        await page.GetByRole(AriaRole.Heading, new() { Name = "Virtual systems of version 1" }).WaitForAsync();
    }

    [Fact]
    public async Task TemplatePage_OfAnIdThatDoesNotExist_Is404()
    {
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        var response = await page.GotoAsync("/provider/templates/tpl_" + new string('0', 26));
        response!.Status.ShouldBe(404);
    }

    [Fact]
    public async Task AnAccountsPerson_Gets403_OnTheProviderCatalogPagesAndUploads_TheSameForAnExistingAndAMissingTemplate()
    {
        var name = CatalogApi.UniquePrefix("tpl") + "secret";
        var template = await app.Admin().CreateTemplateAsync(CatalogApi.Template(name));
        var (account, _) = await app.SignUpWithPasswordAsync("tplb");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(account.Account.Name, "admin");

        var list = await page.GotoAsync("/provider/templates");
        list!.Status.ShouldBe(403);
        (await page.GetByRole(AriaRole.Alert).TextContentAsync())!.ShouldContain("provider's people");

        var missingId = template.Id[..^4] + (template.Id.EndsWith("0000", StringComparison.Ordinal) ? "1111" : "0000");
        var existing = await page.GotoAsync($"/provider/templates/{template.Id}");
        var existingHtml = await page.ContentAsync();
        var existingMain = await page.Locator("main").InnerHTMLAsync();
        var missing = await page.GotoAsync($"/provider/templates/{missingId}");
        var missingMain = await page.Locator("main").InnerHTMLAsync();
        existing!.Status.ShouldBe(403);
        missing!.Status.ShouldBe(existing.Status);
        existingHtml.ShouldNotContain(name);
        existingMain.ShouldBe(missingMain);
        foreach (var path in new[] { "/provider/offerings", "/provider/images" })
        {
            (await page.GotoAsync(path))!.Status.ShouldBe(403, path);
        }
        var upload = await page.APIRequest.PostAsync("/provider/images/upload?name=" + Uri.EscapeDataString(name), new()
        {
            DataByte = new byte[4096],
            Headers = new Dictionary<string, string> { ["Content-Type"] = "application/octet-stream" },
        });
        upload.Status.ShouldBe(403);
    }

    private sealed class ChoiceComparer<T> : IEqualityComparer<Choice<T>>
    {
        public bool Equals(Choice<T>? x, Choice<T>? y) => x is not null && y is not null && x.Allowed.SequenceEqual(y.Allowed) && Equals(x.Default, y.Default);

        public int GetHashCode(Choice<T> obj) => 0;
    }
}
