using Microsoft.Playwright;

namespace Welkin.Portal.Tests;

/// <summary>
/// Debian's Chromium driven by Playwright, one per test assembly; each test opens its own context (cookies,
/// storage) so no test sees another's session. Playwright never downloads a browser here.
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Chromium => _browser ?? throw new InvalidOperationException("The browser has not started.");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: scripts/install-deps.sh installs Debian's chromium package.");
        }
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh browser context (its own cookies) on the portal at <paramref name="baseUrl"/>; dispose it at the end of the test.</summary>
    public async Task<IBrowserContext> NewContextAsync(Uri baseUrl)
    {
        var context = await Chromium.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl.AbsoluteUri,
            ViewportSize = new ViewportSize { Width = 1280, Height = 860 },
            Locale = "en-GB",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(30_000);
        return context;
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
        _playwright?.Dispose();
    }
}
