using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Catalog;

/// <summary>What the provider catalog pages' tests share.</summary>
internal static class ProviderPages
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh browser context signed in as the provider's administrator.</summary>
    public static async Task<(IBrowserContext Context, IPage Page)> ProviderAsync(this Browser browser, PortalApp app)
    {
        var context = await browser.NewContextAsync(app.Address);
        var page = await context.NewPageAsync();
        await page.SignInWithTokenAsync(app.AdminToken);
        return (context, page);
    }

    /// <summary>Moves the focus with Tab only until <paramref name="isFocused"/> (a JavaScript predicate on the focused element) holds.</summary>
    public static async Task TabToAsync(this IPage page, string isFocused, int most = 300)
    {
        for (var i = 0; i < most; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<bool>($"() => {{ const e = document.activeElement; return !!e && ({isFocused}); }}"))
            {
                return;
            }
        }
        throw new ShouldAssertException($"Tab never reached an element where {isFocused}.");
    }

    public static Task TabToIdAsync(this IPage page, string id) => page.TabToAsync($"e.id === '{id}'");

    /// <summary>Tabs to the field with this id and replaces its text by typing, as a keyboard-only person would.</summary>
    public static async Task TypeIntoAsync(this IPage page, string id, string text)
    {
        await page.TabToIdAsync(id);
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync(text);
    }

    public static async Task<T> GetAsync<T>(this HttpClient client, string path) =>
        (await client.GetFromJsonAsync<T>(path, WelkinJson.Client, Ct))!;

    public static async Task<List<OfferingView>> OfferingsNamedAsync(this HttpClient admin, string name) =>
        (await admin.GetAsync<Page<OfferingView>>("/api/v1/offerings?namePrefix=" + Uri.EscapeDataString(name))).Items.Where(o => o.Spec.Name == name).ToList();
}
