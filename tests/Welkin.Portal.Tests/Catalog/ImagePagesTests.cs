using System.Net;
using System.Net.Http.Headers;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Core.Ovf;
using Welkin.Testing;
using Welkin.Testing.Images;

namespace Welkin.Portal.Tests.Catalog;

public sealed class ImagePagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Uploads a small qcow2 image through the API.</summary>
    internal static async Task<ImageView> UploadAsync(HttpClient client, string name)
    {
        using var body = new ByteArrayContent(DiskHeaders.Qcow2(1 << 20));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await (await client.PostAsync("/api/v1/images?name=" + Uri.EscapeDataString(name), body, Ct)).ReadAsync<ImageView>(HttpStatusCode.Created);
    }

    private async Task<List<ImageView>> ImagesNamedAsync(string name)
    {
        var all = new List<ImageView>();
        string? after = null;
        do
        {
            var page = await app.Admin().GetAsync<Page<ImageView>>("/api/v1/images?limit=500" + (after is null ? "" : "&after=" + after));
            all.AddRange(page.Items);
            after = page.Next;
        }
        while (after is not null);
        return all.Where(i => i.Name == name).ToList();
    }

    [Fact]
    public async Task ImagesPage_ListsImages_Accessibly()
    {
        var name = CatalogApi.UniquePrefix("img") + "listed";
        await UploadAsync(app.Admin(), name);
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;

        await page.GotoAsync("/provider/images");

        var row = page.GetByRole(AriaRole.Table, new() { Name = "Images" }).GetByRole(AriaRole.Row).Filter(new() { HasText = name });
        (await row.InnerTextAsync()).ShouldContain("qcow2");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("images");
    }

    [Fact]
    public async Task UploadAnImage_ThroughTheBrowser_ShowsTheProgressTo100_AndStoresIt()
    {
        var name = CatalogApi.UniquePrefix("img") + "uploaded";
        var content = DiskHeaders.Qcow2(4L << 20, length: 2 << 20);
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/images");

        await page.Locator("#image-name").FillAsync(name);
        await page.Locator("#image-description").FillAsync("Sent from the browser");
        await page.Locator("#image-file").SetInputFilesAsync(new FilePayload { Name = "disk.qcow2", MimeType = "application/octet-stream", Buffer = content });
        var upload = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Upload the image" }).ClickAsync(),
            r => r.Url.Contains("/provider/images/upload", StringComparison.Ordinal));

        upload.Status.ShouldBe(201);
        await page.WaitForFunctionAsync("() => document.getElementById('image-progress').value === 100");
        (await page.Locator("[data-upload-status]").First.TextContentAsync())!.ShouldContain(name + " is stored");
        var image = (await ImagesNamedAsync(name)).ShouldHaveSingleItem();
        image.Format.ShouldBe(ImageFormat.Qcow2);
        image.SizeBytes.ShouldBe(content.Length);
        image.Description.ShouldBe("Sent from the browser");
        image.Sha256.ShouldBe(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content)));

        await page.GetByRole(AriaRole.Link, new() { Name = "Show the images" }).ClickAsync();
        await page.WaitForURLAsync("**/provider/images?uploaded=*");
        await page.GetByText($"Uploaded {name}.").WaitForAsync();
        (await page.GetByRole(AriaRole.Status).First.TextContentAsync()).ShouldBe($"Uploaded {name}.");
        (await page.GetByRole(AriaRole.Table, new() { Name = "Images" }).InnerTextAsync()).ShouldContain(name);
    }

    [Fact]
    public async Task UploadAnImage_WithoutScript_PostsTheFormAndStoresIt()
    {
        var name = CatalogApi.UniquePrefix("img") + "no script";
        await using var context = await browser.Chromium.NewContextAsync(new BrowserNewContextOptions { BaseURL = app.Address.AbsoluteUri, JavaScriptEnabled = false });
        var page = await context.NewPageAsync();
        await page.SignInWithTokenAsync(app.AdminToken);
        await page.GotoAsync("/provider/images");

        await page.Locator("#image-name").FillAsync(name);
        await page.Locator("#image-file").SetInputFilesAsync(new FilePayload { Name = "disk.raw", MimeType = "application/octet-stream", Buffer = new byte[1 << 20] });
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload the image" }).ClickAsync();
        await page.WaitForURLAsync("**/provider/images?uploaded=*");

        (await page.GetByRole(AriaRole.Status).First.TextContentAsync()).ShouldBe($"Uploaded {name}.");
        var image = (await ImagesNamedAsync(name)).ShouldHaveSingleItem();
        image.Format.ShouldBe(ImageFormat.Raw);
        image.SizeBytes.ShouldBe(1 << 20);
    }

    [Fact]
    public async Task DeleteAnImage_FromTheList()
    {
        var name = CatalogApi.UniquePrefix("img") + "doomed";
        var image = await UploadAsync(app.Admin(), name);
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/images");

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete " + name }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).First.TextContentAsync()).ShouldBe($"Deleted {name}.");
        (await app.Admin().GetAsync<ImageView>($"/api/v1/images/{image.Id}")).State.ShouldBe(ImageState.Deleted);
        // The list may be empty now (the test's image may have been the cloud's only one): no row names it either way.
        (await page.GetByRole(AriaRole.Row).Filter(new() { HasText = name }).CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task TheUploadEndpoints_RefuseARequestWithoutTheAntiforgeryToken_AndStoreNothing()
    {
        var name = CatalogApi.UniquePrefix("img") + "forged";
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/images");

        // The session cookie goes with these requests, as a forged cross-site post's would; the token does not.
        var raw = await page.APIRequest.PostAsync("/provider/images/upload?name=" + Uri.EscapeDataString(name), new()
        {
            DataByte = new byte[4096],
            Headers = new Dictionary<string, string> { ["Content-Type"] = "application/octet-stream", ["RequestVerificationToken"] = "not-a-token" },
        });
        raw.Status.ShouldBe(400);
        (await raw.TextAsync()).ShouldContain("\"antiforgery\"");

        var form = await page.APIRequest.PostAsync("/provider/images/upload", new()
        {
            Multipart = page.APIRequest.CreateFormData(),
            MaxRedirects = 0,
        });
        form.Status.ShouldBe(303);
        form.Headers["location"].ShouldStartWith("/provider/images?refused=400");

        var ova = await page.APIRequest.PostAsync("/provider/images/import", new()
        {
            DataByte = new byte[4096],
            Headers = new Dictionary<string, string> { ["Content-Type"] = "application/x-tar" },
        });
        ova.Status.ShouldBe(400);

        (await ImagesNamedAsync(name)).ShouldBeEmpty();
    }

    [Fact]
    public async Task ImportAnOva_ThroughTheBrowser_MakesADraftTemplateWithItsImage()
    {
        var name = CatalogApi.UniquePrefix("ova") + "imported";
        var directory = Directory.CreateTempSubdirectory("welkin-portal-ova-");
        try
        {
            var disk = Path.Combine(directory.FullName, "web-disk1.qcow2");
            await ExternalTools.QemuImgAsync("create", "-q", "-f", "qcow2", disk, "1M");
            var spec = CatalogApi.Template(name);
            var exportDisk = new OvfExportDisk("web-disk1.qcow2", disk, new FileInfo(disk).Length, 1L << 20);
            var envelope = OvfWriter.Envelope(spec.Name, spec.Description, [new OvfExportSystem(spec.VirtualSystems[0], exportDisk)], collection: false);
            using var ova = new MemoryStream();
            await OvfWriter.WriteOvaAsync(ova, "package.ovf", envelope, [exportDisk], Ct);

            var (context, page) = await browser.ProviderAsync(app);
            await using var _ = context;
            await page.GotoAsync("/provider/images");
            await page.Locator("#ova-file").SetInputFilesAsync(new FilePayload { Name = "package.ova", MimeType = "application/x-tar", Buffer = ova.ToArray() });
            var import = await page.RunAndWaitForResponseAsync(
                () => page.GetByRole(AriaRole.Button, new() { Name = "Import the package" }).ClickAsync(),
                r => r.Url.Contains("/provider/images/import", StringComparison.Ordinal));

            import.Status.ShouldBe(201);
            await page.WaitForFunctionAsync("() => document.getElementById('ova-progress').value === 100");
            await page.GetByRole(AriaRole.Link, new() { Name = "Open the template" }).ClickAsync();
            await page.WaitForURLAsync("**/provider/templates/*?imported=1");
            await page.GetByRole(AriaRole.Heading, new() { Name = name, Level = 1 }).WaitForAsync();
            (await page.GetByRole(AriaRole.Status).TextContentAsync())!.ShouldContain("Imported from the OVF package");

            var id = new Uri(page.Url).AbsolutePath.Split('/').Last();
            var template = await app.Admin().GetAsync<TemplateView>($"/api/v1/templates/{id}");
            template.State.ShouldBe(TemplateState.Draft);
            var imageId = template.VirtualSystems.ShouldHaveSingleItem().ImageId.ShouldNotBeNull();
            (await app.Admin().GetAsync<ImageView>($"/api/v1/images/{imageId}")).Format.ShouldBe(ImageFormat.Qcow2);
            await page.ShouldBeAccessibleAsync();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ImportAnOva_ThatIsNotAPackage_ShowsTheApisProblem()
    {
        var (context, page) = await browser.ProviderAsync(app);
        await using var _ = context;
        await page.GotoAsync("/provider/images");
        await page.Locator("#ova-file").SetInputFilesAsync(new FilePayload { Name = "junk.ova", MimeType = "application/x-tar", Buffer = new byte[10_240] });

        await page.GetByRole(AriaRole.Button, new() { Name = "Import the package" }).ClickAsync();

        var problem = page.Locator("[data-upload-problem]").Last;
        await problem.WaitForAsync();
        (await problem.TextContentAsync()).ShouldNotBeNullOrWhiteSpace();
        (await page.Locator("#ova-progress").EvaluateAsync<double>("e => e.value")).ShouldBeLessThan(100);
    }
}
