using System.Net;
using System.Text.RegularExpressions;

namespace Welkin.Portal.Tests;

/// <summary>
/// A portal session without a browser: an HttpClient with a cookie jar, signed in through the token form with its
/// antiforgery token, as a browser would. For tests that read many pages quickly (isolation, CSRF).
/// </summary>
public static partial class PortalClient
{
    public static async Task<HttpClient> SignedInAsync(Uri portal, string token)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = portal };
        // As a browser asks for pages.
        client.DefaultRequestHeaders.Accept.ParseAdd("text/html,application/xhtml+xml");
        var (form, antiforgery) = await FormAsync(client, "/sign-in");
        _ = form;
        using var posted = await client.PostAsync("/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "sign-in-token",
            ["TokenInput.Token"] = token,
            ["__RequestVerificationToken"] = antiforgery,
        }), TestContext.Current.CancellationToken);
        posted.StatusCode.ShouldBeOneOf(HttpStatusCode.Redirect, HttpStatusCode.Found, HttpStatusCode.SeeOther);
        return client;
    }

    /// <summary>A page's HTML and the antiforgery token of its forms.</summary>
    public static async Task<(string Html, string Antiforgery)> FormAsync(HttpClient client, string path)
    {
        var html = await client.GetStringAsync(path, TestContext.Current.CancellationToken);
        var match = AntiforgeryField().Match(html);
        match.Success.ShouldBeTrue($"{path} has no form with an antiforgery token");
        return (html, WebUtility.HtmlDecode(match.Groups[1].Value));
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
