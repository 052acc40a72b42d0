using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Portal.Downloads;

namespace Welkin.Portal.Tests;

public sealed class VaultPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Vaults_CreatesAVaultWithTheForm_AndListsIt()
    {
        var tenant = await StorageTenant.CreateAsync(app, "vlt");
        await tenant.VaultAsync("older-vault");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");

        await page.GotoAsync("/vaults");
        await page.Locator("#vault-name").FillAsync("ledgers");
        await page.Locator("#vault-capacity").FillAsync("100");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the vault" }).ClickAsync();

        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Created the vault ledgers." }).WaitForAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "ledgers", Exact = true }).WaitForAsync();
        var vault = (await tenant.Api.Vaults.ListAsync(ct: Ct)).Items.Single(v => v.Name == "ledgers");
        vault.ObjectLock.ShouldBeTrue();
        vault.CapacityGiB.ShouldBe(100);
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("vaults");
    }

    [Fact]
    public async Task Vaults_CreateAVault_WithTheKeyboardOnly()
    {
        var tenant = await StorageTenant.CreateAsync(app, "vlt");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync("/vaults");

        await TabToAsync(page, "vault-name");
        await page.Keyboard.TypeAsync("keyed-in");
        await TabToAsync(page, "vault-lock");
        await page.Keyboard.PressAsync("Space"); // untick: this vault keeps no retention
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Enter");

        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Created the vault keyed-in." }).WaitForAsync();
        var vault = (await tenant.Api.Vaults.ListAsync(ct: Ct)).Items.ShouldHaveSingleItem();
        vault.Name.ShouldBe("keyed-in");
        vault.ObjectLock.ShouldBeFalse();
    }

    [Fact]
    public async Task Vault_UploadsARecord_ListsIt_DownloadsTheSameBytes_AndPlacesAndReleasesAHold()
    {
        var tenant = await StorageTenant.CreateAsync(app, "vlt");
        var vault = await tenant.VaultAsync("evidence");
        var bytes = RandomNumberGenerator.GetBytes(200_000);
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync($"/vaults/{vault.Id}");

        await page.Locator("#upload-key").FillAsync("cases/17/ledger.bin");
        await page.Locator("#upload-file").SetInputFilesAsync(new FilePayload { Name = "ledger.bin", MimeType = "application/octet-stream", Buffer = bytes });
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("uploaded=", StringComparison.Ordinal));

        var record = (await tenant.Api.Vaults.RecordsAsync(vault.Id, ct: Ct)).Items.ShouldHaveSingleItem();
        record.Key.ShouldBe("cases/17/ledger.bin");
        record.SizeBytes.ShouldBe(bytes.Length);
        record.Sha256.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(bytes)));
        (await page.GetByRole(AriaRole.Status).TextContentAsync())!.ShouldContain($"Uploaded cases/17/ledger.bin (version {record.Id}");
        var link = page.GetByRole(AriaRole.Link, new() { Name = "Download cases/17/ledger.bin" });

        var download = await page.RunAndWaitForDownloadAsync(() => link.ClickAsync());
        download.SuggestedFilename.ShouldBe("ledger.bin");
        await using (var stream = await download.CreateReadStreamAsync())
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, Ct);
            copy.ToArray().ShouldBe(bytes);
        }

        await page.Locator("#hold-record").SelectOptionAsync(record.Id);
        await page.Locator("#hold-id").FillAsync("matter-42");
        await page.GetByRole(AriaRole.Button, new() { Name = "Place the hold" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Placed the hold matter-42." }).WaitForAsync();
        (await tenant.Api.Vaults.RecordAsync(vault.Id, record.Id, Ct)).HoldIds.ShouldBe(["matter-42"]);
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("vault");

        await page.GetByRole(AriaRole.Button, new() { Name = "Release hold matter-42 on cases/17/ledger.bin" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Released the hold matter-42" }).WaitForAsync();
        (await tenant.Api.Vaults.RecordAsync(vault.Id, record.Id, Ct)).HoldIds.ShouldBeEmpty();
    }

    [Fact]
    public async Task Vault_ARecordUnderAComplianceClass_ShowsItsRetentionDate_AndTheDefaultRetentionChanges()
    {
        var tenant = await StorageTenant.CreateAsync(app, "vlt");
        var vault = await tenant.VaultAsync("mail");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync($"/vaults/{vault.Id}");

        await page.Locator("#class-name").FillAsync("seven-years");
        await page.Locator("#class-period").FillAsync("P7Y");
        await page.Locator("#class-mode").SelectOptionAsync("compliance");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the class" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Created the class seven-years." }).WaitForAsync();
        var made = (await tenant.Api.Vaults.ClassesAsync(vault.Id, Ct)).ShouldHaveSingleItem();
        (made.Name, made.RetentionPeriod, made.Mode).ShouldBe(("seven-years", "P7Y", RetentionMode.Compliance));

        await page.Locator("#upload-file").SetInputFilesAsync(new FilePayload { Name = "0001.eml", MimeType = "message/rfc822", Buffer = "Subject: hello"u8.ToArray() });
        await page.Locator("#upload-class").SelectOptionAsync("seven-years");
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("uploaded=", StringComparison.Ordinal));

        var record = (await tenant.Api.Vaults.RecordsAsync(vault.Id, ct: Ct)).Items.ShouldHaveSingleItem();
        record.Key.ShouldBe("0001.eml"); // the file's name when no key is given
        record.Mode.ShouldBe(RetentionMode.Compliance);
        var until = record.RetainUntil!.Value.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "0001.eml" });
        (await row.TextContentAsync())!.ShouldContain($"{until} (compliance)");

        await page.Locator("#retention-mode").SelectOptionAsync("governance");
        await page.Locator("#retention-period").FillAsync("30");
        await page.Locator("#retention-unit").SelectOptionAsync("days");
        await page.GetByRole(AriaRole.Button, new() { Name = "Set the default retention" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Set the default retention." }).WaitForAsync();
        var retention = await tenant.Api.Vaults.GetDefaultRetentionAsync(vault.Id, Ct);
        (retention.Mode, retention.Days, retention.Years).ShouldBe((RetentionMode.Governance, 30, null));
        (await page.Locator("#default-retention-now").TextContentAsync()).ShouldBe("governance, 30 days");
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task Upload_WithoutTheAntiforgeryToken_IsRefused_AndStoresNothing()
    {
        var tenant = await StorageTenant.CreateAsync(app, "vlt");
        var vault = await tenant.VaultAsync("guarded");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync($"/vaults/{vault.Id}"); // the antiforgery cookie is set; only the form's token is missing

        var form = context.APIRequest.CreateFormData();
        form.Set("key", "forged.txt");
        form.Set("file", new FilePayload { Name = "forged.txt", MimeType = "text/plain", Buffer = "forged"u8.ToArray() });
        var refused = await context.APIRequest.PostAsync($"/vaults/{vault.Id}/records", new() { Multipart = form, MaxRedirects = 0 });
        refused.Status.ShouldBe(400);

        var wrong = context.APIRequest.CreateFormData();
        wrong.Set("__RequestVerificationToken", "not-a-token");
        wrong.Set("key", "forged.txt");
        wrong.Set("file", new FilePayload { Name = "forged.txt", MimeType = "text/plain", Buffer = "forged"u8.ToArray() });
        (await context.APIRequest.PostAsync($"/vaults/{vault.Id}/records", new() { Multipart = wrong, MaxRedirects = 0 })).Status.ShouldBe(400);

        (await tenant.Api.Vaults.RecordsAsync(vault.Id, ct: Ct)).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task SoxReport_IsServedAsItsOwnSandboxedDocument()
    {
        var tenant = await StorageTenant.CreateAsync(app, "vlt");
        var vault = await tenant.VaultAsync("audited");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync($"/vaults/{vault.Id}");
        (await page.GetByRole(AriaRole.Link, new() { Name = "SOX report" }).GetAttributeAsync("href")).ShouldBe($"/vaults/{vault.Id}/sox-report");

        var report = await context.APIRequest.GetAsync($"/vaults/{vault.Id}/sox-report");
        report.Status.ShouldBe(200);
        report.Headers["content-security-policy"].ShouldBe(VaultTransfers.ReportSecurityPolicy);
        report.Headers["content-type"].ShouldStartWith("text/html");
        (await report.TextAsync()).ShouldContain(vault.Id);
    }

    /// <summary>Presses Tab until the element with <paramref name="id"/> has the focus (reading the focus is not a click).</summary>
    internal static async Task TabToAsync(IPage page, string id)
    {
        for (var i = 0; i < 80; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<string>("() => document.activeElement?.id ?? ''") == id)
            {
                return;
            }
        }
        throw new ShouldAssertException($"Tab never reached #{id}.");
    }
}
