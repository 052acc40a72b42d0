using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Catalog;

public sealed class TemplateLifecycleTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_WhenValid_ReturnsDraftVersionOneOwnedByCaller()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var me = await (await developer.GetAsync("/api/v1/me", Ct)).ReadAsync<WhoAmI>();

        var response = await developer.PostAsJsonAsync("/api/v1/templates", CatalogApi.Template("LAMP small"), WelkinJson.Client, Ct);
        var created = await response.ReadAsync<TemplateView>(HttpStatusCode.Created);

        response.Headers.Location!.ToString().ShouldBe($"/api/v1/templates/{created.Id}");
        created.Id.ShouldStartWith("tpl_");
        created.TemplateVersion.ShouldBe(1);
        created.State.ShouldBe(TemplateState.Draft);
        created.Name.ShouldBe("LAMP small");
        created.Owner.ShouldBe(me.Principal.Id);
        created.VirtualSystems.Single().Hardware.MemoryMiB.Default.ShouldBe(6144);
        created.Published.ShouldBeNull();
        var read = await (await developer.GetAsync($"/api/v1/templates/{created.Id}", Ct)).ReadAsync<TemplateView>();
        read.VirtualSystems.Single().Properties!.Select(p => p.Key).ShouldBe(["admin.email", "backup.enabled"]);
    }

    [Fact]
    public async Task Lifecycle_DraftPublishedRetired_RecordsTimesAndRefusesInvalidTransitions()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var created = await developer.CreateTemplateAsync(CatalogApi.Template("lifecycle"));

        var retireDraft = await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/retire", new TemplateTransitionRequest(), WelkinJson.Client, Ct);
        await retireDraft.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        var published = await developer.PublishTemplateAsync(created.Id);
        published.State.ShouldBe(TemplateState.Published);
        published.Published.ShouldNotBeNull();
        published.Version.ShouldBe(created.Version + 1);

        var again = await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/publish", new TemplateTransitionRequest(), WelkinJson.Client, Ct);
        await again.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        var retired = await (await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/retire", new TemplateTransitionRequest(1), WelkinJson.Client, Ct))
            .ReadAsync<TemplateView>();
        retired.State.ShouldBe(TemplateState.Retired);
        retired.Retired.ShouldNotBeNull();
        retired.Published.ShouldBe(published.Published);

        var republish = await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/publish", new TemplateTransitionRequest(), WelkinJson.Client, Ct);
        await republish.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var reretire = await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/retire", new TemplateTransitionRequest(), WelkinJson.Client, Ct);
        await reretire.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task Publish_WithoutBody_PublishesTheLatestVersion()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var created = await developer.CreateTemplateAsync(CatalogApi.Template("no body"));

        var response = await developer.PostAsync($"/api/v1/templates/{created.Id}/publish", null, Ct);

        (await response.ReadAsync<TemplateView>()).State.ShouldBe(TemplateState.Published);
    }

    [Fact]
    public async Task Update_WhenDraft_ReplacesSpecAndBumpsVersion()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var created = await developer.CreateTemplateAsync(CatalogApi.Template("before"));

        var updated = await (await developer.PutAsJsonAsync($"/api/v1/templates/{created.Id}",
            new UpdateTemplateRequest(CatalogApi.Template("after", vcpus: 4), created.Version), WelkinJson.Client, Ct)).ReadAsync<TemplateView>();

        updated.Name.ShouldBe("after");
        updated.TemplateVersion.ShouldBe(1);
        updated.Version.ShouldBe(created.Version + 1);
        updated.VirtualSystems.Single().Hardware.Vcpus.Allowed.ShouldBe([4]);
        var read = await (await developer.GetAsync($"/api/v1/templates/{created.Id}", Ct)).ReadAsync<TemplateView>();
        read.Name.ShouldBe("after");
    }

    [Fact]
    public async Task Update_WhenPublished_Returns409AndLeavesTheVersionUnchanged()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var published = await developer.PublishedTemplateAsync(CatalogApi.Template("frozen"));

        var response = await developer.PutAsJsonAsync($"/api/v1/templates/{published.Id}",
            new UpdateTemplateRequest(CatalogApi.Template("changed")), WelkinJson.Client, Ct);

        await response.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var read = await (await developer.GetAsync($"/api/v1/templates/{published.Id}", Ct)).ReadAsync<TemplateView>();
        read.Name.ShouldBe("frozen");
        read.Version.ShouldBe(published.Version);
    }

    [Fact]
    public async Task Update_WithStaleVersion_Returns412()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var created = await developer.CreateTemplateAsync(CatalogApi.Template("race"));
        await (await developer.PutAsJsonAsync($"/api/v1/templates/{created.Id}",
            new UpdateTemplateRequest(CatalogApi.Template("first"), created.Version), WelkinJson.Client, Ct)).ReadAsync<TemplateView>();

        var stale = await developer.PutAsJsonAsync($"/api/v1/templates/{created.Id}",
            new UpdateTemplateRequest(CatalogApi.Template("second"), created.Version), WelkinJson.Client, Ct);

        await stale.ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        (await (await developer.GetAsync($"/api/v1/templates/{created.Id}", Ct)).ReadAsync<TemplateView>()).Name.ShouldBe("first");
    }

    [Fact]
    public async Task Publish_WithStaleVersion_Returns412AndStaysDraft()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var created = await developer.CreateTemplateAsync(CatalogApi.Template("stale publish"));

        var response = await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/publish",
            new TemplateTransitionRequest(Version: created.Version + 5), WelkinJson.Client, Ct);

        await response.ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        (await (await developer.GetAsync($"/api/v1/templates/{created.Id}", Ct)).ReadAsync<TemplateView>()).State.ShouldBe(TemplateState.Draft);
    }

    [Fact]
    public async Task NewVersion_CopiesLatestAsDraft_AndOnlyOneDraftMayBeOpen()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var v1 = await developer.PublishedTemplateAsync(CatalogApi.Template("versioned"));

        var response = await developer.PostAsJsonAsync($"/api/v1/templates/{v1.Id}/versions", new NewTemplateVersionRequest(), WelkinJson.Client, Ct);
        var v2 = await response.ReadAsync<TemplateView>(HttpStatusCode.Created);
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/templates/{v1.Id}/versions/2");
        v2.Id.ShouldBe(v1.Id);
        v2.TemplateVersion.ShouldBe(2);
        v2.State.ShouldBe(TemplateState.Draft);
        v2.Name.ShouldBe("versioned");
        v2.VirtualSystems.ShouldBeEquivalentTo(v1.VirtualSystems);

        var second = await developer.PostAsJsonAsync($"/api/v1/templates/{v1.Id}/versions", new NewTemplateVersionRequest(), WelkinJson.Client, Ct);
        await second.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        // The draft v2 is editable while v1 stays frozen and published.
        await (await developer.PutAsJsonAsync($"/api/v1/templates/{v1.Id}",
            new UpdateTemplateRequest(CatalogApi.Template("versioned", memoryMiB: 8192)), WelkinJson.Client, Ct)).ReadAsync<TemplateView>();
        var readV1 = await (await developer.GetAsync($"/api/v1/templates/{v1.Id}/versions/1", Ct)).ReadAsync<TemplateView>();
        readV1.State.ShouldBe(TemplateState.Published);
        readV1.VirtualSystems.Single().Hardware.MemoryMiB.Allowed.ShouldBe([6144]);
        var latest = await (await developer.GetAsync($"/api/v1/templates/{v1.Id}", Ct)).ReadAsync<TemplateView>();
        latest.TemplateVersion.ShouldBe(2);
        latest.VirtualSystems.Single().Hardware.MemoryMiB.Allowed.ShouldBe([8192]);

        await developer.PublishTemplateAsync(v1.Id, 2);
        var versions = await (await developer.GetAsync($"/api/v1/templates/{v1.Id}/versions", Ct)).ReadAsync<Page<TemplateView>>();
        versions.Items.Select(t => (t.TemplateVersion, t.State)).ShouldBe([(1, TemplateState.Published), (2, TemplateState.Published)]);
    }

    [Fact]
    public async Task NewVersion_WithSpec_UsesTheGivenSpec()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var v1 = await developer.PublishedTemplateAsync(CatalogApi.Template("old name"));

        var v2 = await (await developer.PostAsJsonAsync($"/api/v1/templates/{v1.Id}/versions",
            new NewTemplateVersionRequest(CatalogApi.Template("new name", os: "rhel")), WelkinJson.Client, Ct)).ReadAsync<TemplateView>(HttpStatusCode.Created);

        v2.Name.ShouldBe("new name");
        v2.VirtualSystems.Single().Software!.OperatingSystem!.Allowed.ShouldBe(["rhel"]);
    }

    [Fact]
    public async Task GetVersion_WhenMissingOrMalformed_Returns404Or400()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var created = await developer.CreateTemplateAsync(CatalogApi.Template("versions"));

        await (await developer.GetAsync($"/api/v1/templates/{created.Id}/versions/7", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await developer.GetAsync($"/api/v1/templates/{created.Id}/versions/zero", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
        await (await developer.GetAsync("/api/v1/templates/tpl_" + new string('0', 26), Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task List_ReturnsLatestOfEachTemplate_FiltersByState_AndPages()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var prefix = CatalogApi.UniquePrefix("list");
        var a = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "a"));
        var b = await developer.CreateTemplateAsync(CatalogApi.Template(prefix + "b"));
        var c = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "c"));
        await (await developer.PostAsJsonAsync($"/api/v1/templates/{c.Id}/versions", new NewTemplateVersionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<TemplateView>(HttpStatusCode.Created);
        var query = $"namePrefix={Uri.EscapeDataString(prefix)}";

        // Lists are in id order; ids made within one millisecond are in random order, so the expectation is sorted too.
        var expected = new[] { (a.Id, 1, TemplateState.Published), (b.Id, 1, TemplateState.Draft), (c.Id, 2, TemplateState.Draft) }
            .OrderBy(t => t.Item1, StringComparer.Ordinal).ToList();
        var ids = expected.Select(t => t.Item1).ToList();

        var all = await (await developer.GetAsync($"/api/v1/templates?{query}", Ct)).ReadAsync<Page<TemplateView>>();
        all.Items.Select(t => (t.Id, t.TemplateVersion, t.State)).ShouldBe(expected);

        var published = await (await developer.GetAsync($"/api/v1/templates?{query}&state=published", Ct)).ReadAsync<Page<TemplateView>>();
        published.Items.Select(t => (t.Id, t.TemplateVersion)).ShouldBe(new[] { (a.Id, 1), (c.Id, 1) }.OrderBy(t => t.Item1, StringComparer.Ordinal));

        var first = await (await developer.GetAsync($"/api/v1/templates?{query}&limit=2", Ct)).ReadAsync<Page<TemplateView>>();
        first.Items.Select(t => t.Id).ShouldBe(ids[..2]);
        first.Next.ShouldBe(ids[1]);
        var rest = await (await developer.GetAsync($"/api/v1/templates?{query}&limit=2&after={first.Next}", Ct)).ReadAsync<Page<TemplateView>>();
        rest.Items.Select(t => t.Id).ShouldBe([ids[2]]);
        rest.Next.ShouldBeNull();

        await (await developer.GetAsync("/api/v1/templates?state=frozen", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await developer.GetAsync("/api/v1/templates?after=nope", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    [Fact]
    public async Task StateChanges_AreAuditedUnderTheirActionNames()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var created = await developer.CreateTemplateAsync(CatalogApi.Template("audited"));
        await (await developer.PutAsJsonAsync($"/api/v1/templates/{created.Id}", new UpdateTemplateRequest(CatalogApi.Template("audited 2")), WelkinJson.Client, Ct))
            .ReadAsync<TemplateView>();
        await developer.PublishTemplateAsync(created.Id);
        await (await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/versions", new NewTemplateVersionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<TemplateView>(HttpStatusCode.Created);
        await developer.PublishTemplateAsync(created.Id);
        await (await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/retire", new TemplateTransitionRequest(1), WelkinJson.Client, Ct)).ReadAsync<TemplateView>();
        var refused = await developer.PostAsJsonAsync($"/api/v1/templates/{created.Id}/retire", new TemplateTransitionRequest(1), WelkinJson.Client, Ct);
        await refused.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        var entries = (await app.Admin().AuditAsync()).Where(e => e.Target.Contains(created.Id, StringComparison.Ordinal)).ToList();

        entries.Select(e => (e.Action, e.Outcome)).ShouldBe(
        [
            ("template.create", "success"), ("template.update", "success"), ("template.publish", "success"), ("template.new-version", "success"),
            ("template.publish", "success"), ("template.retire", "success"), ("template.retire", "failed"),
        ]);
        entries.Where(e => e.Action == "template.publish").Select(e => e.Detail).ShouldBe(["templateVersion=1", "templateVersion=2"]);
    }
}
