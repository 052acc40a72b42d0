using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Compute;

public sealed class ContractPagesTests(ComputePortalApp app, Browser browser) : IClassFixture<ComputePortalApp>
{
    [Fact]
    public async Task TheContractsPage_ListsContracts_AndRequestsOneWithTwoLines()
    {
        var tenant = await ComputeData.TenantAsync(app, "ctrs");
        var first = await ComputeData.OfferingAsync(app, "first");
        var second = await ComputeData.OfferingAsync(app, "second");
        var existing = await tenant.ActiveAsync(first, 2, "existing <b>contract</b>");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/contracts");
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = existing.Name! });
        (await row.InnerTextAsync()).ShouldContain("active");
        (await row.InnerTextAsync()).ShouldContain("2 × " + first.Spec.Name);
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("contracts");

        await page.GetByLabel("Contract name").FillAsync("web shop");
        await page.GetByLabel("Term (months)").FillAsync("3");
        await page.GetByLabel("Offering", new() { Exact = true }).SelectOptionAsync(first.Id);
        await page.GetByLabel("Quantity", new() { Exact = true }).FillAsync("2");
        await page.GetByLabel("Second line (optional)").SelectOptionAsync(second.Id);
        await page.GetByLabel("Second line count").FillAsync("1");
        await page.GetByLabel("Placement jurisdiction (optional, e.g. DE)").FillAsync("US");
        await page.GetByRole(AriaRole.Button, new() { Name = "Request contract" }).ClickAsync();
        await page.WaitForURLAsync("**/contracts/ctr_*");

        var id = page.Url.Split('/')[^1];
        var contract = await tenant.ContractAsync(id);
        contract.Name.ShouldBe("web shop");
        contract.State.ShouldBe(ContractState.Proposed);
        contract.TermMonths.ShouldBe(3);
        contract.Constraints!.Jurisdictions.ShouldBe(["US"]);
        contract.Items.Select(i => (i.OfferingId, i.Quantity)).ShouldBe([(first.Id, 2), (second.Id, 1)]);
        (await page.Locator("#contract-state").TextContentAsync()).ShouldBe("proposed");
        (await page.Locator("h1").TextContentAsync()).ShouldBe("Contract web shop");
    }

    [Fact]
    public async Task ARefusedRequest_ShowsTheProblem_AndMakesNoContract()
    {
        var tenant = await ComputeData.TenantAsync(app, "ctrs");
        var offering = await ComputeData.OfferingAsync(app);
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/contracts");
        await page.GetByLabel("Contract name").FillAsync("too big");
        await page.GetByLabel("Offering", new() { Exact = true }).SelectOptionAsync(offering.Id);
        await page.GetByLabel("Quantity", new() { Exact = true }).FillAsync("5000");
        await page.GetByRole(AriaRole.Button, new() { Name = "Request contract" }).ClickAsync();

        await page.GetByRole(AriaRole.Alert).WaitForAsync();
        page.Url.ShouldEndWith("/contracts");
        var list = await (await tenant.Client.GetAsync("/api/v1/contracts", TestContext.Current.CancellationToken)).ReadAsync<Page<ContractView>>();
        list.Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task AProposal_IsAccepted_OrRejected_FromItsPage()
    {
        var tenant = await ComputeData.TenantAsync(app, "ctr");
        var offering = await ComputeData.OfferingAsync(app);
        var accepted = await tenant.ProposedAsync(offering);
        var rejected = await tenant.ProposedAsync(offering);
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/contracts/" + accepted.Id);
        await page.ShouldBeAccessibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Accept", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Contract accepted." }).WaitForAsync();
        (await page.Locator("#contract-state").TextContentAsync()).ShouldBe("active");
        (await tenant.ContractAsync(accepted.Id)).State.ShouldBe(ContractState.Active);

        await page.GotoAsync("/contracts/" + rejected.Id);
        await page.GetByRole(AriaRole.Button, new() { Name = "Reject", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Proposal rejected." }).WaitForAsync();
        (await tenant.ContractAsync(rejected.Id)).State.ShouldBe(ContractState.Rejected);
        (await page.GetByRole(AriaRole.Button, new() { Name = "Accept", Exact = true }).CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task AnActiveContract_IsAmended_AndShowsItsRevisionsUsageAndSla()
    {
        var tenant = await ComputeData.TenantAsync(app, "ctr");
        var offering = await ComputeData.OfferingAsync(app);
        var contract = await tenant.ActiveAsync(offering, 3, "amend me");
        await tenant.ProvisionedAsync(contract);
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/contracts/" + contract.Id);
        var items = page.GetByRole(AriaRole.Table, new() { Name = "Items of the contract" });
        (await items.GetByRole(AriaRole.Row).Nth(1).InnerTextAsync()).ShouldContain(offering.Spec.Name);
        (await items.GetByRole(AriaRole.Cell).Nth(4).TextContentAsync()).ShouldBe("1"); // one machine in use
        var sla = page.GetByRole(AriaRole.Table, new() { Name = "SLA terms of the current period" });
        if (await sla.CountAsync() > 0)
        {
            (await sla.InnerTextAsync()).ShouldContain("availability");
        }
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("contract");

        await page.GetByLabel($"Quantity of {offering.Spec.Name} (line 0)").FillAsync("5");
        await page.GetByRole(AriaRole.Button, new() { Name = "Amend contract" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Contract amended." }).WaitForAsync();

        var amended = await tenant.ContractAsync(contract.Id);
        amended.Items.Single().Quantity.ShouldBe(5);
        amended.Revision.ShouldBe(2);
        var revisions = page.GetByRole(AriaRole.Table, new() { Name = "Revisions of the contract" }).GetByRole(AriaRole.Row);
        (await revisions.CountAsync()).ShouldBe(3);
        (await revisions.Nth(2).InnerTextAsync()).ShouldContain("5 × " + offering.Spec.Name);
        (await page.GetByRole(AriaRole.Link, new() { Name = "Contract report" }).GetAttributeAsync("href")).ShouldBe($"/contracts/{contract.Id}/report");
    }

    [Fact]
    public async Task Terminate_NeedsTheConfirmation_ThenFollowsTheJob()
    {
        var tenant = await ComputeData.TenantAsync(app, "ctr");
        var offering = await ComputeData.OfferingAsync(app);
        var contract = await tenant.ActiveAsync(offering, 2, "to end");
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync("/contracts/" + contract.Id);
        await page.GetByRole(AriaRole.Button, new() { Name = "Terminate", Exact = true }).ClickAsync();
        (await page.GetByRole(AriaRole.Alert).InnerTextAsync()).ShouldContain("Confirm the termination");
        (await tenant.ContractAsync(contract.Id)).State.ShouldBe(ContractState.Active);

        await page.GetByLabel("I understand: terminate this contract and release its resources").CheckAsync();
        (await page.ClickToJobAsync("Terminate")).ShouldBe("succeeded");
        (await tenant.ContractAsync(contract.Id)).State.ShouldBe(ContractState.Terminated);
        await page.GetByRole(AriaRole.Link, new() { Name = "Back" }).ClickAsync();
        await page.WaitForURLAsync("**/contracts/" + contract.Id);
        await page.Locator("#contract-state").Filter(new() { HasText = "terminated" }).WaitForAsync();
    }

    [Fact]
    public async Task TheContractReport_DrawsAChart_WithATableOfTheSameNumbers()
    {
        var tenant = await ComputeData.TenantAsync(app, "rpt");
        var offering = await ComputeData.OfferingAsync(app);
        var contract = await tenant.ActiveAsync(offering, 3, "reported");
        await tenant.ProvisionedAsync(contract, 2);
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;

        await page.GotoAsync($"/contracts/{contract.Id}/report");
        (await page.Locator("h1").TextContentAsync()).ShouldBe("Contract report reported");
        (await page.Locator("svg.chart[role=img]").CountAsync()).ShouldBeGreaterThanOrEqualTo(1);
        (await page.Locator("svg.chart").First.Locator("rect.bar").CountAsync()).ShouldBe(24);
        var hours = page.GetByRole(AriaRole.Table, new() { Name = "Active servers by hour of day (UTC)" });
        (await hours.Locator("tbody tr").CountAsync()).ShouldBe(24);
        var timeline = page.GetByRole(AriaRole.Table, new() { Name = "Timeline" });
        (await timeline.InnerTextAsync()).ShouldContain("deployed");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("contract-report");
    }

    [Fact]
    public async Task KeyboardOnly_RequestAContract_ThenAcceptIt()
    {
        var tenant = await ComputeData.TenantAsync(app, "kbd");
        var offering = await ComputeData.OfferingAsync(app);
        var (context, page) = await browser.SignedInAsync(app, tenant);
        await using var _ = context;
        await page.GotoAsync("/contracts");

        await TabToAsync(page, "#contract-name");
        await page.Keyboard.TypeAsync("by keyboard");
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.TypeAsync("2");
        await page.Keyboard.PressAsync("Tab");
        for (var i = 0; i < 300 && await page.EvalOnSelectorAsync<string>("#contract-offering", "e => e.value") != offering.Id; i++)
        {
            await page.Keyboard.PressAsync("ArrowDown");
        }
        (await page.EvalOnSelectorAsync<string>("#contract-offering", "e => e.value")).ShouldBe(offering.Id);
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("2");
        await TabToAsync(page, "button[type=submit]", "Request contract");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/contracts/ctr_*");

        await TabToAsync(page, "button[type=submit]", "Accept");
        await page.Keyboard.PressAsync("Enter");
        await page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Contract accepted." }).WaitForAsync();

        var contract = await tenant.ContractAsync(page.Url.Split('/')[^1]);
        contract.Name.ShouldBe("by keyboard");
        contract.State.ShouldBe(ContractState.Active);
        contract.TermMonths.ShouldBe(2);
        contract.Items.Single().Quantity.ShouldBe(2);
    }

    /// <summary>Presses Tab until the focused element matches <paramref name="selector"/> (and has <paramref name="text"/>).</summary>
    internal static async Task TabToAsync(IPage page, string selector, string? text = null)
    {
        for (var i = 0; i < 80; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<bool>(
                "([s, t]) => { const e = document.activeElement; return !!e && e.matches(s) && (t === null || e.textContent.trim() === t); }",
                new object?[] { selector, text }))
            {
                return;
            }
        }
        throw new ShouldAssertException($"Tab never reached {selector} {text}");
    }
}
