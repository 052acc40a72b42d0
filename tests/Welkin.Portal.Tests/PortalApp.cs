using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

/// <summary>A Welkin cloud listening on a loopback port, so a real browser can open its portal.</summary>
public class PortalApp : WelkinApp
{
    public const string Password = "correct horse battery staple";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Port"] = "0",
    };

    public override ValueTask InitializeAsync()
    {
        UseKestrel();
        StartServer();
        ClientOptions.BaseAddress = Address;
        return ValueTask.CompletedTask;
    }

    /// <summary>Where the portal is, for example http://127.0.0.1:41234/.</summary>
    public Uri Address => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <summary>Signs up an account whose admin has <see cref="Password"/>; returns its names and an API client as the admin.</summary>
    public async Task<(SignUpResponse SignUp, HttpClient Client)> SignUpWithPasswordAsync(string prefix = "acct")
    {
        var name = $"{prefix}-{Guid.NewGuid():n}"[..Math.Min(prefix.Length + 13, 63)];
        var response = await Anonymous().PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest(name, $"{prefix} Inc.", new SignUpAdmin("admin", Password: Password)), WelkinJson.Client);
        response.EnsureSuccessStatusCode();
        var body = (await response.Content.ReadFromJsonAsync<SignUpResponse>(WelkinJson.Client))!;
        return (body, As(body.Token.Secret));
    }
}
