using System.Net;
using System.Text.RegularExpressions;

namespace Welkin.Testing.Clouds;

/// <summary>
/// A portal session without a browser: an HttpClient with a cookie jar, signed in through the portal's token form
/// with its antiforgery token, as a browser would; redirects are not followed. For the portal's tests that read
/// many pages quickly and for the portal's benchmark.
/// </summary>
public static partial class PortalSignIn
{
    public static async Task<HttpClient> SignedInAsync(Uri portal, string token, CancellationToken ct = default)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = portal };
        // As a browser asks for pages.
        client.DefaultRequestHeaders.Accept.ParseAdd("text/html,application/xhtml+xml");
        var antiforgery = Antiforgery(await client.GetStringAsync("/sign-in", ct))
            ?? throw new InvalidOperationException("The sign-in page has no form with an antiforgery token.");
        using var posted = await client.PostAsync("/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "sign-in-token",
            ["TokenInput.Token"] = token,
            ["__RequestVerificationToken"] = antiforgery,
        }), ct);
        if (posted.StatusCode is not (HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther))
        {
            client.Dispose();
            throw new InvalidOperationException($"The portal refused the token: {(int)posted.StatusCode}.");
        }
        return client;
    }

    /// <summary>The antiforgery token of a page's forms; null when it has none.</summary>
    public static string? Antiforgery(string html) =>
        AntiforgeryField().Match(html) is { Success: true } match ? WebUtility.HtmlDecode(match.Groups[1].Value) : null;

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
