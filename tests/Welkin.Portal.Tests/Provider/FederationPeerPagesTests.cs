using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Provider;

/// <summary>
/// The federation page of a cloud whose peer is heard over a real exchange (<see cref="FederatedPortalClouds"/>): the
/// peer's presence and certificate, trusting and distrusting it in the browser, an agreement with its terms, and the
/// peer lost from the exchange.
/// </summary>
public sealed class FederationPeerPagesTests(FederatedPortalClouds clouds, Browser browser) : IClassFixture<FederatedPortalClouds>
{
    private const string PeerName = "Cloud2";

    [Fact]
    public async Task FederationPage_ShowsThePeerOnline_TrustedOnItsCertificate()
    {
        await clouds.BothOnlineAsync();
        var (context, page) = await HomeProviderAsync();
        await using var _ = context;

        var response = await page.GotoAsync("/provider/federation");

        response!.Status.ShouldBe(200);
        (await page.Locator("#federation-state").TextContentAsync())!.ShouldContain("Federation is on");
        var row = PeerRow(page);
        (await row.Locator("th").TextContentAsync())!.ShouldContain(clouds.Peer.XmppAddress);
        (await row.Locator(".peer-url").TextContentAsync()).ShouldBe(clouds.Peer.ListenerUrl.AbsoluteUri);
        (await row.Locator("td").Nth(0).TextContentAsync())!.Trim().ShouldBe("online");
        (await row.Locator("td").Nth(1).Locator(".state").TextContentAsync()).ShouldBe("trusted");
        (await row.Locator("td.last-seen").TextContentAsync())!.ShouldEndWith("UTC");
        (await row.Locator("code.fingerprint").TextContentAsync()).ShouldBe(clouds.PeerFingerprint);
        (await row.Locator("td").Nth(3).TextContentAsync())!.ShouldContain("vCPU free");
        (await page.Locator("#trust-help").TextContentAsync())!.ShouldContain("federation's CA");
        await page.ShouldBeAccessibleAsync();
        await page.ScreenshotAsync("federation");
    }

    [Fact]
    public async Task DistrustingThePeer_AndJudgingItAgain_InTheBrowser_ChangesItsTrust()
    {
        await clouds.BothOnlineAsync();
        var (context, page) = await HomeProviderAsync();
        await using var _ = context;
        await page.GotoAsync("/provider/federation");

        await PeerRow(page).GetByLabel("Why this cloud stops trusting the peer").FillAsync("audit finding 42");
        await PeerRow(page).GetByRole(AriaRole.Button, new() { Name = "Distrust" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync())!.ShouldContain($"{PeerName} is no longer trusted.");
        var distrusted = (await clouds.PeerAtHomeAsync())!;
        distrusted.Trust.ShouldBe(PeerTrustState.Untrusted);
        distrusted.Online.ShouldBeFalse();
        distrusted.Reason!.ShouldContain("audit finding 42");
        (await PeerRow(page).Locator("td").Nth(0).TextContentAsync())!.Trim().ShouldBe("offline");
        (await PeerRow(page).Locator("td").Nth(1).TextContentAsync())!.ShouldContain("audit finding 42");
        await page.ShouldBeAccessibleAsync();

        await PeerRow(page).GetByRole(AriaRole.Button, new() { Name = "Judge on its certificate again" }).ClickAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync())!.ShouldContain($"{PeerName} will be judged on its certificate again.");
        (await clouds.PeerAtHomeAsync())!.Reason!.ShouldNotContain("audit finding 42");
        await clouds.UntilPeerAtHomeAsync(p => p is { Trust: PeerTrustState.Trusted, Online: true }, "Cloud2 trusted and online again at Cloud1");
        await page.GotoAsync("/provider/federation");
        (await PeerRow(page).Locator("td").Nth(1).Locator(".state").TextContentAsync()).ShouldBe("trusted");
        (await PeerRow(page).Locator("td").Nth(0).TextContentAsync())!.Trim().ShouldBe("online");
    }

    [Fact]
    public async Task DistrustAndTrustAgain_WithTheKeyboardOnly()
    {
        await clouds.BothOnlineAsync();
        var (context, page) = await HomeProviderAsync();
        await using var _ = context;
        await page.GotoAsync("/provider/federation");

        await page.TabToAsync("e.id && e.id.startsWith('distrust-reason-')");
        await page.Keyboard.TypeAsync("keyboard review");
        await page.Keyboard.PressAsync("Tab");
        (await page.EvaluateAsync<string>("() => document.activeElement.textContent")).ShouldBe("Distrust");
        await page.Keyboard.PressAsync("Enter");
        await page.GetByRole(AriaRole.Status).WaitForAsync();

        (await page.GetByRole(AriaRole.Status).TextContentAsync())!.ShouldContain("is no longer trusted");
        (await clouds.PeerAtHomeAsync())!.Reason!.ShouldContain("keyboard review");

        await page.TabToAsync("e.tagName === 'BUTTON' && e.textContent === 'Judge on its certificate again'");
        await page.Keyboard.PressAsync("Enter");
        await page.GetByText("will be judged on its certificate again").WaitForAsync();

        await clouds.UntilPeerAtHomeAsync(p => p is { Trust: PeerTrustState.Trusted, Online: true }, "Cloud2 trusted and online again at Cloud1");
    }

    [Fact]
    public async Task AnAgreementWithThePeer_IsListedWithItsTerms()
    {
        await clouds.BothOnlineAsync();
        var agreement = await clouds.AgreementAsync();
        agreement.State.ShouldBe(AgreementState.Active);
        var (context, page) = await HomeProviderAsync();
        await using var _ = context;

        await page.GotoAsync("/provider/federation");

        var row = page.Locator("table[aria-label='Federation agreements'] tbody tr").Filter(new() { HasText = agreement.Id });
        var cells = row.Locator("td");
        (await cells.Nth(1).TextContentAsync()).ShouldBe("we consume");
        (await cells.Nth(2).TextContentAsync()).ShouldBe(PeerName);
        (await cells.Nth(3).TextContentAsync())!.ShouldContain("active");
        var terms = (await row.Locator("td.terms").TextContentAsync())!;
        terms.ShouldContain("in DE");
        terms.ShouldContain($"2 × {clouds.Compute.Id}");
        terms.ShouldContain("compute-unit 2");
        terms.ShouldContain("billed monthly in USD");
        terms.ShouldContain("at most 0.20 USD per vCPU-hour");
        terms.ShouldContain("availability at least 99.9 %");
        (await cells.Nth(6).TextContentAsync())!.ShouldContain(string.Join(", ", agreement.ContractIds));
        await page.ShouldBeAccessibleAsync();
    }

    [Fact]
    public async Task APeerLostFromTheExchange_ShowsOffline_AfterAReload()
    {
        await clouds.BothOnlineAsync();
        var (context, page) = await HomeProviderAsync();
        await using var _ = context;
        await page.GotoAsync("/provider/federation");
        (await PeerRow(page).Locator("td").Nth(0).TextContentAsync())!.Trim().ShouldBe("online");

        clouds.Relay.Refusing = true;
        clouds.Relay.Sever();
        try
        {
            await clouds.UntilPeerAtHomeAsync(p => !p.Online, "Cloud1 sees Cloud2 offline");
            await page.ReloadAsync();

            (await PeerRow(page).Locator("td").Nth(0).TextContentAsync())!.Trim().ShouldBe("offline");
            // Its certificate was not in question: it is still trusted, and when it was last heard from is shown.
            (await PeerRow(page).Locator("td").Nth(1).Locator(".state").TextContentAsync()).ShouldBe("trusted");
            (await PeerRow(page).Locator("td.last-seen").TextContentAsync())!.ShouldNotBe("never");
        }
        finally
        {
            clouds.Relay.Refusing = false;
        }
        await clouds.BothOnlineAsync();
        await page.ReloadAsync();
        (await PeerRow(page).Locator("td").Nth(0).TextContentAsync())!.Trim().ShouldBe("online");
    }

    private static ILocator PeerRow(IPage page) =>
        page.Locator("table[aria-label='Peer clouds'] tbody tr").Filter(new() { HasText = PeerName });

    private async Task<(IBrowserContext Context, IPage Page)> HomeProviderAsync()
    {
        var context = await browser.NewContextAsync(clouds.Home.ApiAddress);
        var page = await context.NewPageAsync();
        await page.SignInWithTokenAsync(clouds.Home.AdminToken);
        return (context, page);
    }
}
