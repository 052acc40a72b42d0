using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

public sealed class GrantPagesTests(PortalApp app, Browser browser) : IClassFixture<PortalApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Vault_GrantsARegulatorAKeyPrefix_ListsTheGrant_AndRevokesIt()
    {
        var tenant = await StorageTenant.CreateAsync(app, "grt");
        var vault = await tenant.VaultAsync("case-files");
        var regulator = await StorageTenant.Admin(app).Principals.CreateAsync(
            new CreatePrincipalRequest($"reg-{Guid.NewGuid():n}"[..20], [Role.Regulator], "Financial Conduct Office", PrincipalKind.Service), Ct);
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync($"/vaults/{vault.Id}");

        await page.Locator("#grant-regulator").FillAsync(regulator.Id);
        await page.Locator("#grant-prefix").FillAsync("case-17/");
        var until = DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime.AddDays(60));
        await page.Locator("#grant-until").FillAsync(until.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByRole(AriaRole.Button, new() { Name = "Grant", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = $"Granted {regulator.Id}." }).WaitForAsync();

        var grant = (await tenant.Api.Vaults.GrantsAsync(ct: Ct)).Items.ShouldHaveSingleItem();
        grant.ShouldSatisfyAllConditions(
            () => grant.VaultId.ShouldBe(vault.Id), () => grant.RegulatorId.ShouldBe(regulator.Id), () => grant.KeyPrefix.ShouldBe("case-17/"),
            () => grant.State.ShouldBe(VaultGrantState.Active), () => grant.Expires.ShouldBe(new DateTimeOffset(until.ToDateTime(new TimeOnly(23, 59, 59)), TimeSpan.Zero)));
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = regulator.Id });
        (await row.TextContentAsync())!.ShouldContain("keys starting with case-17/");
        await page.ShouldBeAccessibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke the grant to " + regulator.Id }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Revoked the grant" }).WaitForAsync();
        (await tenant.Api.Vaults.GrantsAsync(ct: Ct)).Items.ShouldHaveSingleItem().State.ShouldBe(VaultGrantState.Revoked);
        (await row.TextContentAsync())!.ShouldContain("revoked");
    }

    [Fact]
    public async Task Vault_AGrantToSomeoneWhoIsNoRegulator_IsRefused_AndSaysWhy()
    {
        var tenant = await StorageTenant.CreateAsync(app, "grt");
        var vault = await tenant.VaultAsync("case-files");
        await using var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(tenant.AccountName, "admin");
        await page.GotoAsync($"/vaults/{vault.Id}");

        await page.Locator("#grant-regulator").FillAsync(tenant.SignUp.Admin.Id);
        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Grant", Exact = true }).ClickAsync(),
            r => r.Request.Method == "POST" && r.Url.Contains(vault.Id, StringComparison.Ordinal));

        response.Status.ShouldBeInRange(400, 499);
        (await page.GetByRole(AriaRole.Alert).TextContentAsync()).ShouldNotBeNullOrWhiteSpace();
        (await tenant.Api.Vaults.GrantsAsync(ct: Ct)).Items.ShouldBeEmpty();
    }
}
