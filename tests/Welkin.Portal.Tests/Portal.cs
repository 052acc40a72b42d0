using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Welkin.Portal.Tests;

/// <summary>What portal tests do again and again: sign in, check a page's accessibility, keep a screenshot.</summary>
public static class Portal
{
    /// <summary>Signs in through the sign-in form as a person of <paramref name="account"/> (null: the provider's).</summary>
    public static async Task SignInAsync(this IPage page, string? account, string name, string password = PortalApp.Password)
    {
        await page.GotoAsync("/sign-in");
        if (account is not null)
        {
            await page.GetByLabel("Account", new() { Exact = false }).First.FillAsync(account);
        }
        await page.Locator("#name").FillAsync(name);
        await page.Locator("#password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/sign-in", StringComparison.Ordinal));
    }

    /// <summary>
    /// A fresh browser context and page signed in as <paramref name="name"/> of <paramref name="account"/>, on
    /// <paramref name="path"/> when given; dispose the context at the end of the test.
    /// </summary>
    public static async Task<(IBrowserContext Context, IPage Page)> SignedInAsync(this Browser browser, PortalApp app, string account, string? path = null, string name = "admin")
    {
        var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInAsync(account, name);
        if (path is not null)
        {
            await page.GotoAsync(path);
        }
        return (context, page);
    }

    /// <summary>Signs in with an API token (the operators' form), then goes to <paramref name="returnUrl"/> (the dashboard when null).</summary>
    public static async Task SignInWithTokenAsync(this IPage page, string token, string? returnUrl = null)
    {
        await page.GotoAsync(returnUrl is null ? "/sign-in" : "/sign-in?returnUrl=" + Uri.EscapeDataString(returnUrl));
        await page.Locator("#token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with the token" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/sign-in", StringComparison.Ordinal));
    }

    /// <summary>
    /// Collects what the browser reports as errors from now on: a refused script or style (content-security policy), a
    /// failed asset, an exception in the portal's script.
    /// </summary>
    public static List<string> ConsoleErrors(this IPage page)
    {
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error);
            }
        };
        return errors;
    }

    /// <summary>Runs axe-core on the page as it stands and fails on any serious or critical violation.</summary>
    public static async Task ShouldBeAccessibleAsync(this IPage page)
    {
        var result = await page.RunAxe();
        var bad = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        bad.ShouldBeEmpty(page.Url + ": " + string.Join("; ", bad.Select(v =>
            $"{v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => n.Html))}")));
    }

    /// <summary>
    /// A full-page screenshot. With WELKIN_UPDATE_DOCS=1 it replaces docs/images/portal/NAME.png, which docs/portal.md shows;
    /// otherwise it goes to a temporary file, so taking it is still tested.
    /// </summary>
    public static async Task ScreenshotAsync(this IPage page, string name)
    {
        var update = Environment.GetEnvironmentVariable("WELKIN_UPDATE_DOCS") == "1";
        var path = update
            ? Welkin.Testing.Repository.Path("docs", "images", "portal", name + ".png")
            : Path.Combine(Path.GetTempPath(), "welkin-portal-shots", name + ".png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        bytes.Length.ShouldBeGreaterThan(1000);
    }
}
