using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Catalog;

public sealed class CatalogPermissionTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Developer_CannotCreateOrPublishOfferings()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template("dev"));
        var draft = await manager.CreateOfferingAsync(CatalogApi.Compute("dev offering", template.Id));

        var create = await developer.PostAsJsonAsync("/api/v1/offerings", CatalogApi.Compute("mine", template.Id), WelkinJson.Client, Ct);
        await create.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var publish = await developer.PostAsJsonAsync($"/api/v1/offerings/{draft.Id}/publish", new OfferingTransitionRequest(), WelkinJson.Client, Ct);
        await publish.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        (await (await manager.GetAsync($"/api/v1/offerings/{draft.Id}", Ct)).ReadAsync<OfferingView>()).State.ShouldBe(OfferingState.Draft);

        var denied = (await app.Admin().AuditAsync()).Where(e => e.Target == $"/api/v1/offerings/{draft.Id}/publish").ToList();
        denied.Select(e => (e.Action, e.Outcome)).ShouldBe([("offering.publish", "denied")]);
    }

    [Fact]
    public async Task CatalogManager_CannotWriteTemplates_ButReadsAndPublishesThem()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var draft = await developer.CreateTemplateAsync(CatalogApi.Template("shared"));

        var create = await manager.PostAsJsonAsync("/api/v1/templates", CatalogApi.Template("by manager"), WelkinJson.Client, Ct);
        await create.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var update = await manager.PutAsJsonAsync($"/api/v1/templates/{draft.Id}", new UpdateTemplateRequest(CatalogApi.Template("edited")), WelkinJson.Client, Ct);
        await update.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        (await (await manager.GetAsync($"/api/v1/templates/{draft.Id}", Ct)).ReadAsync<TemplateView>()).Name.ShouldBe("shared");
        (await manager.PublishTemplateAsync(draft.Id)).State.ShouldBe(TemplateState.Published);
    }

    [Fact]
    public async Task Auditor_ReadsTemplatesAndOfferings_ButCannotChangeThem()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);
        var template = await developer.CreateTemplateAsync(CatalogApi.Template("watched"));

        (await (await auditor.GetAsync($"/api/v1/templates/{template.Id}/versions", Ct)).ReadAsync<Page<TemplateView>>()).Count.ShouldBe(1);
        (await auditor.GetAsync("/api/v1/offerings", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var publish = await auditor.PostAsJsonAsync($"/api/v1/templates/{template.Id}/publish", new TemplateTransitionRequest(), WelkinJson.Client, Ct);
        await publish.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var offer = await auditor.PostAsJsonAsync("/api/v1/offerings", CatalogApi.Storage("nope"), WelkinJson.Client, Ct);
        await offer.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task AccountPrincipals_Get403OnEveryProviderSideEndpoint()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template("provider only"));
        var offering = await manager.CreateOfferingAsync(CatalogApi.Compute("provider only", template.Id));
        var (_, accountAdmin) = await app.SignUpAsync("tenant");
        var t = template.Id;
        var o = offering.Id;
        (string Method, string Path, object? Body)[] calls =
        [
            ("GET", "/api/v1/templates", null),
            ("POST", "/api/v1/templates", CatalogApi.Template("tenant template")),
            ("GET", $"/api/v1/templates/{t}", null),
            ("PUT", $"/api/v1/templates/{t}", new UpdateTemplateRequest(CatalogApi.Template("x"))),
            ("GET", $"/api/v1/templates/{t}/versions", null),
            ("POST", $"/api/v1/templates/{t}/versions", new NewTemplateVersionRequest()),
            ("GET", $"/api/v1/templates/{t}/versions/1", null),
            ("POST", $"/api/v1/templates/{t}/publish", new TemplateTransitionRequest()),
            ("POST", $"/api/v1/templates/{t}/retire", new TemplateTransitionRequest()),
            ("GET", "/api/v1/offerings", null),
            ("POST", "/api/v1/offerings", CatalogApi.Storage("tenant offering")),
            ("GET", $"/api/v1/offerings/{o}", null),
            ("PUT", $"/api/v1/offerings/{o}", new UpdateOfferingRequest(CatalogApi.Storage("x"))),
            ("POST", $"/api/v1/offerings/{o}/publish", new OfferingTransitionRequest()),
            ("POST", $"/api/v1/offerings/{o}/withdraw", new OfferingTransitionRequest()),
        ];

        foreach (var (method, path, body) in calls)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (body is not null)
            {
                request.Content = JsonContent.Create(body, body.GetType(), options: WelkinJson.Client);
            }
            var response = await accountAdmin.SendAsync(request, Ct);
            await response.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        }
        (await (await developer.GetAsync($"/api/v1/templates/{t}", Ct)).ReadAsync<TemplateView>()).State.ShouldBe(TemplateState.Published);
        (await (await manager.GetAsync($"/api/v1/offerings/{o}", Ct)).ReadAsync<OfferingView>()).State.ShouldBe(OfferingState.Draft);
    }

    [Fact]
    public async Task Anonymous_Gets401OnProviderSideEndpoints()
    {
        var anonymous = app.Anonymous();

        await (await anonymous.GetAsync("/api/v1/templates", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        await (await anonymous.GetAsync("/api/v1/offerings", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        var create = await anonymous.PostAsJsonAsync("/api/v1/offerings", CatalogApi.Storage("anon"), WelkinJson.Client, Ct);
        await create.ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task PublicCatalog_ShowsOnlyPublishedOfferings_ToAnonymousAndAccountCallers()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("public");
        var draft = await manager.CreateOfferingAsync(CatalogApi.Storage(prefix + "draft"));
        var published = await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(CatalogApi.Storage(prefix + "published"))).Id);
        var withdrawn = await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(CatalogApi.Storage(prefix + "withdrawn"))).Id);
        await (await manager.PostAsJsonAsync($"/api/v1/offerings/{withdrawn.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<OfferingView>();
        var (_, tenant) = await app.SignUpAsync("browser");

        foreach (var client in new[] { app.Anonymous(), tenant, manager })
        {
            (await client.PublicCatalogAsync(prefix)).Select(o => o.Id).ShouldBe([published.Id]);
            (await (await client.GetAsync($"/api/v1/catalog/offerings/{published.Id}", Ct)).ReadAsync<OfferingView>()).State.ShouldBe(OfferingState.Published);
            await (await client.GetAsync($"/api/v1/catalog/offerings/{draft.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
            await (await client.GetAsync($"/api/v1/catalog/offerings/{withdrawn.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        }
    }
}
