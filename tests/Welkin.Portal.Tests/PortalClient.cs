namespace Welkin.Portal.Tests;

/// <summary>
/// A portal session without a browser (<see cref="PortalSessions"/>): an HttpClient with a cookie jar, signed in
/// through the token form. For tests that read many pages quickly (isolation, CSRF).
/// </summary>
public static class PortalClient
{
    public static Task<HttpClient> SignedInAsync(Uri portal, string token) =>
        PortalSignIn.SignedInAsync(portal, token, TestContext.Current.CancellationToken);

    /// <summary>A page's HTML and the antiforgery token of its forms.</summary>
    public static async Task<(string Html, string Antiforgery)> FormAsync(HttpClient client, string path)
    {
        var html = await client.GetStringAsync(path, TestContext.Current.CancellationToken);
        var antiforgery = PortalSignIn.Antiforgery(html);
        antiforgery.ShouldNotBeNull($"{path} has no form with an antiforgery token");
        return (html, antiforgery);
    }
}
