using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;

namespace Welkin.Portal.Tests;

/// <summary>
/// Tenant isolation through the portal: the API's isolation table, walked with a portal session. Every route the portal
/// serves is classified in <see cref="PortalRoutes"/> (the meta-test fails for one that is not, and for an entry naming a
/// route that no longer exists):
/// - <see cref="PortalRoutes.Anonymous"/>: pages anyone may open, showing nothing of any tenant;
/// - <see cref="PortalRoutes.Listings"/>: pages of the signed-in person's own items: the attacker's page must not show a
///   single name or id of the victim's;
/// - <see cref="PortalRoutes.IdRoutes"/>: pages of one item: the attacker opening the victim's id must get exactly what a
///   well-formed id that exists nowhere gets (status, and no trace of the victim in the page).
/// </summary>
public sealed class PortalIsolationTests(PortalIsolationApp app) : IClassFixture<PortalIsolationApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void EveryPortalRoute_IsClassified()
    {
        var served = PortalRoutesServed(app).ToHashSet(StringComparer.Ordinal);
        var classified = PortalRoutes.Anonymous.Concat(PortalRoutes.Listings).Concat(PortalRoutes.IdRoutes.Select(r => r.Route))
            .Concat(PortalRoutes.ProviderOnly.Select(r => r.StartsWith("POST ", StringComparison.Ordinal) ? r[5..] : r))
            .Concat(PortalRoutes.IdRoutesTestedElsewhere.Keys).ToHashSet(StringComparer.Ordinal);

        served.Except(classified).ShouldBeEmpty("classify these portal routes in PortalRoutes (tests/Welkin.Portal.Tests/PortalRoutes.cs)");
        classified.Except(served).ShouldBeEmpty("these classified routes are no longer served");
        served.ShouldContain("/jobs/{Id}", "the route enumeration found the portal's pages");
    }

    public static TheoryData<string> Listings() => [.. PortalRoutes.Listings];

    [Theory]
    [MemberData(nameof(Listings))]
    public async Task AListingPage_ShowsNothingOfAnotherTenant(string route)
    {
        var world = await app.WorldAsync();
        using var response = await world.Attacker.GetAsync(route, Ct);
        var html = await response.Content.ReadAsStringAsync(Ct);

        ((int)response.StatusCode).ShouldBeLessThan(500, html);
        foreach (var secret in world.VictimSecrets)
        {
            html.ShouldNotContain(secret, Case.Insensitive, $"{route} shows the victim's {secret}");
        }
    }

    public static TheoryData<string> ProviderOnly() => [.. PortalRoutes.ProviderOnly];

    [Theory]
    [MemberData(nameof(ProviderOnly))]
    public async Task AProviderPage_RefusesAnAccountsPerson(string route)
    {
        var world = await app.WorldAsync();
        HttpResponseMessage response;
        if (route.StartsWith("POST ", StringComparison.Ordinal))
        {
            var (_, antiforgery) = await PortalClient.FormAsync(world.Attacker, "/clouds");
            response = await world.Attacker.PostAsync(route[5..], new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = antiforgery }), Ct);
        }
        else
        {
            response = await world.Attacker.GetAsync(route.Replace("{Id}", PortalRoutes.ProviderRouteId, StringComparison.OrdinalIgnoreCase), Ct);
        }
        using (response)
        {
            response.StatusCode.ShouldBe(HttpStatusCode.Forbidden, await response.Content.ReadAsStringAsync(Ct));
        }
    }

    public static TheoryData<string> IdRoutes() => [.. PortalRoutes.IdRoutes.Select(r => r.Route)];

    [Theory]
    [MemberData(nameof(IdRoutes))]
    public async Task AnotherTenantsId_GetsTheAnswerOfAnIdThatExistsNowhere(string route)
    {
        var world = await app.WorldAsync();
        var entry = PortalRoutes.IdRoutes.Single(r => r.Route == route);
        var victimId = await entry.VictimId(world);

        using var stolen = await world.Attacker.GetAsync(route.Replace("{Id}", victimId, StringComparison.OrdinalIgnoreCase), Ct);
        using var missing = await world.Attacker.GetAsync(route.Replace("{Id}", entry.MissingId, StringComparison.OrdinalIgnoreCase), Ct);
        var stolenHtml = await stolen.Content.ReadAsStringAsync(Ct);
        var missingHtml = await missing.Content.ReadAsStringAsync(Ct);

        stolen.StatusCode.ShouldBe(missing.StatusCode, stolenHtml);
        ((int)stolen.StatusCode).ShouldBeInRange(400, 499, stolenHtml);
        foreach (var secret in world.VictimSecrets.Where(s => s != victimId))
        {
            stolenHtml.ShouldNotContain(secret, Case.Insensitive);
        }
        Normalize(stolenHtml, victimId).ShouldBe(Normalize(missingHtml, entry.MissingId));

        // The owner's session does see it: the route really serves the victim's item.
        using var own = await world.Victim.GetAsync(route.Replace("{Id}", victimId, StringComparison.OrdinalIgnoreCase), Ct);
        own.StatusCode.ShouldBe(HttpStatusCode.OK, await own.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>The page with the id replaced and the per-render parts (antiforgery tokens, correlation ids) removed.</summary>
    private static string Normalize(string html, string id) =>
        System.Text.RegularExpressions.Regex.Replace(
            System.Text.RegularExpressions.Regex.Replace(html.Replace(id, "<id>", StringComparison.Ordinal), "value=\"[^\"]{40,}\"", "value=\"…\""),
            "[0-9a-f]{32}", "<correlation>");

    /// <summary>Every route of the portal: its pages (components with @page) and its own endpoints (downloads, uploads).</summary>
    internal static IEnumerable<string> PortalRoutesServed(PortalApp app)
    {
        var pages = typeof(Welkin.Portal.PortalSetup).Assembly.GetTypes()
            .Where(t => typeof(IComponent).IsAssignableFrom(t))
            .SelectMany(t => t.GetCustomAttributes<RouteAttribute>())
            .Select(r => r.Template);
        var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<ComponentTypeMetadata>() is null)
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/'))
            .Where(p => Welkin.Portal.PortalSetup.IsPortalPath(new Microsoft.AspNetCore.Http.PathString(p))
                && !p.StartsWith("/_framework", StringComparison.Ordinal) && !p.StartsWith("/_content", StringComparison.Ordinal)
                && !p.StartsWith("/_blazor", StringComparison.Ordinal) && !p.Contains(":file", StringComparison.Ordinal) && p != "/");
        return pages.Concat(endpoints).Distinct();
    }
}

/// <summary>The two tenants of the isolation tests, built once: the victim has a contract, an instance, a machine and a job.</summary>
public sealed class PortalIsolationApp : PortalApp
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private World? _world;

    public async Task<World> WorldAsync()
    {
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            return _world ??= await BuildAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<World> BuildAsync()
    {
        var provider = Admin();
        var prefix = CatalogApi.UniquePrefix("iso");
        var template = await provider.PublishedTemplateAsync(CatalogApi.Template(prefix + "tiny", vcpus: 1, memoryMiB: 256));
        var compute = await provider.PublishOfferingAsync((await provider.CreateOfferingAsync(CatalogApi.Compute(prefix + "tiny", template.Id))).Id);
        var (victim, victimApi) = await SignUpWithPasswordAsync("victim");
        var (attacker, attackerApi) = await SignUpWithPasswordAsync("attacker");
        foreach (var account in new[] { victim, attacker })
        {
            (await provider.PutAsJsonAsync($"/api/v1/accounts/{account.Account.Id}/limits",
                new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5, ["storage-unit"] = 5 }), WelkinJson.Client)).EnsureSuccessStatusCode();
        }
        var contractName = "victim-contract-" + Guid.NewGuid().ToString("n")[..8];
        var contract = await (await victimApi.PostAsJsonAsync("/api/v1/contracts",
            new ContractRequest([new ContractItemRequest(compute.Id, 1)], Name: contractName), WelkinJson.Client)).ReadAsync<ContractView>(HttpStatusCode.Created);
        await (await victimApi.PostAsJsonAsync($"/api/v1/contracts/{contract.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client)).ReadAsync<ContractView>();
        var instanceName = "victim-instance-" + Guid.NewGuid().ToString("n")[..8];
        var instance = await (await victimApi.PostAsJsonAsync("/api/v1/instances", new ProvisionRequest(contract.Id, Name: instanceName), WelkinJson.Client))
            .ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        await JobWaits.FinishedAsync(this, instance.Job.Id);
        var machines = await (await victimApi.GetAsync($"/api/v1/machines?instanceId={instance.Resource.Id}")).ReadAsync<Page<MachineView>>();
        _ = attackerApi;
        return new World(
            await PortalClient.SignedInAsync(Address, victim.Token.Secret),
            await PortalClient.SignedInAsync(Address, attacker.Token.Secret),
            victim, contract, instance.Resource, machines.Items, instance.Job.Id,
            [victim.Account.Id, victim.Account.Name, contract.Id, contractName, instance.Resource.Id, instanceName, instance.Job.Id,
                .. machines.Items.SelectMany(m => new[] { m.Id, m.Name })]);
    }

    public sealed record World(
        HttpClient Victim,
        HttpClient Attacker,
        SignUpResponse VictimAccount,
        ContractView VictimContract,
        InstanceView VictimInstance,
        IReadOnlyList<MachineView> VictimMachines,
        string VictimJob,
        IReadOnlyList<string> VictimSecrets);
}
