using Microsoft.Playwright;

namespace Welkin.Portal.Tests;

/// <summary>Account B's session asking for account A's vault, record or report gets what a well-formed id naming nothing gets.</summary>
public sealed class VaultIsolationTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    [Fact]
    public async Task AnotherAccountsVault_RecordAndReport_AnswerAsIfTheyDidNotExist()
    {
        var a = await StorageTenant.CreateAsync(app, "isoa");
        var vault = await a.VaultAsync("secret-vault-of-a");
        var record = await a.Api.Vaults.PutAsync(vault.Id, "secret-key-of-a.txt", new MemoryStream("a's bytes"u8.ToArray()), ct: TestContext.Current.CancellationToken);
        var b = await StorageTenant.CreateAsync(app, "isob");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(b.AccountName, "admin");

        var missingVault = StorageTenantExtensions.Missing(vault.Id);
        var missingRecord = StorageTenantExtensions.Missing(record.Id);
        foreach (var (theirs, nothing) in new[]
        {
            ($"/vaults/{vault.Id}", $"/vaults/{missingVault}"),
            ($"/vaults/{vault.Id}/records/{record.Id}", $"/vaults/{missingVault}/records/{missingRecord}"),
            ($"/vaults/{vault.Id}/sox-report", $"/vaults/{missingVault}/sox-report"),
        })
        {
            var (theirStatus, theirBody) = await OpenAsync(page, theirs);
            var (nothingStatus, nothingBody) = await OpenAsync(page, nothing);
            theirStatus.ShouldBe(404, theirs);
            nothingStatus.ShouldBe(404, nothing);
            theirBody.ShouldNotContain("secret-vault-of-a");
            theirBody.ShouldNotContain("secret-key-of-a");
            theirBody.Replace(vault.Id, "ID", StringComparison.Ordinal).Replace(record.Id, "RID", StringComparison.Ordinal)
                .ShouldBe(nothingBody.Replace(missingVault, "ID", StringComparison.Ordinal).Replace(missingRecord, "RID", StringComparison.Ordinal), theirs);
        }
    }

    [Fact]
    public async Task AnUploadIntoAnotherAccountsVault_AnswersAsIfItDidNotExist_AndStoresNothing()
    {
        var a = await StorageTenant.CreateAsync(app, "isoa");
        var vault = await a.VaultAsync("target-vault");
        var b = await StorageTenant.CreateAsync(app, "isob");
        using var portal = await PortalClient.SignedInAsync(app.Address, b.SignUp.Token.Secret);
        var (_, antiforgery) = await PortalClient.FormAsync(portal, "/vaults");

        foreach (var target in new[] { vault.Id, StorageTenantExtensions.Missing(vault.Id) })
        {
            using var form = new MultipartFormDataContent
            {
                { new StringContent(antiforgery), "__RequestVerificationToken" },
                { new StringContent("planted.txt"), "key" },
                { new ByteArrayContent("planted by b"u8.ToArray()), "file", "planted.txt" },
            };
            using var response = await portal.PostAsync($"/vaults/{target}/records", form, TestContext.Current.CancellationToken);
            response.StatusCode.ShouldBe(System.Net.HttpStatusCode.NotFound, target);
        }
        (await a.Api.Vaults.RecordsAsync(vault.Id, ct: TestContext.Current.CancellationToken)).Items.ShouldBeEmpty();
    }

    private static async Task<(int Status, string Body)> OpenAsync(IPage page, string path)
    {
        var response = await page.Context.APIRequest.GetAsync(path, new() { Headers = new Dictionary<string, string> { ["Accept"] = "text/html" } });
        var body = await response.TextAsync();
        // The antiforgery token differs per answer; nothing else should.
        body = System.Text.RegularExpressions.Regex.Replace(body, "name=\"__RequestVerificationToken\" value=\"[^\"]*\"", "TOKEN");
        body = System.Text.RegularExpressions.Regex.Replace(body, "\"correlationId\":\"[^\"]*\"|[0-9a-f]{32}", "CID");
        return (response.Status, body);
    }
}
