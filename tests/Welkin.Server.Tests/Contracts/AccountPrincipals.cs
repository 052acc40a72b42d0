using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Contracts;

internal static class AccountPrincipals
{
    /// <summary>A principal of the admin's account with <paramref name="role"/>, and a client authenticated as it.</summary>
    public static async Task<HttpClient> CreateAsync(WelkinApp app, HttpClient accountAdmin, Role role)
    {
        var ct = TestContext.Current.CancellationToken;
        var principal = await (await accountAdmin.PostAsJsonAsync("/api/v1/principals",
            new CreatePrincipalRequest(role.ToString().ToLowerInvariant() + "-" + Guid.NewGuid().ToString("n")[..8], [role]), WelkinJson.Client, ct))
            .ReadAsync<PrincipalView>(HttpStatusCode.Created);
        var token = await (await accountAdmin.PostAsJsonAsync($"/api/v1/principals/{principal.Id}/tokens", new CreateTokenRequest("test"), WelkinJson.Client, ct))
            .ReadAsync<IssuedToken>(HttpStatusCode.Created);
        return app.As(token.Secret);
    }
}
