using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Catalog;

public sealed class OfferingLifecycleTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Lifecycle_DraftPublishedWithdrawn_ShowsInPublicCatalogOnlyWhilePublished()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("life");
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));

        var response = await manager.PostAsJsonAsync("/api/v1/offerings", CatalogApi.Compute(prefix + "small", template.Id), WelkinJson.Client, Ct);
        var draft = await response.ReadAsync<OfferingView>(HttpStatusCode.Created);
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/offerings/{draft.Id}");
        draft.State.ShouldBe(OfferingState.Draft);
        draft.Spec.PricePlan.Rates.Select(r => (r.Metric, r.Price)).ShouldBe([("compute-unit", 40m), ("cpu-hour", 0.13m)]);
        (await app.Anonymous().PublicCatalogAsync(prefix)).ShouldBeEmpty();
        await (await app.Anonymous().GetAsync($"/api/v1/catalog/offerings/{draft.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");

        var withdrawDraft = await manager.PostAsJsonAsync($"/api/v1/offerings/{draft.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct);
        await withdrawDraft.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        var published = await manager.PublishOfferingAsync(draft.Id);
        published.State.ShouldBe(OfferingState.Published);
        published.Published.ShouldNotBeNull();
        (await app.Anonymous().PublicCatalogAsync(prefix)).Select(o => o.Id).ShouldBe([draft.Id]);
        (await (await app.Anonymous().GetAsync($"/api/v1/catalog/offerings/{draft.Id}", Ct)).ReadAsync<OfferingView>()).Spec.Name.ShouldBe(prefix + "small");

        var publishAgain = await manager.PostAsJsonAsync($"/api/v1/offerings/{draft.Id}/publish", new OfferingTransitionRequest(), WelkinJson.Client, Ct);
        await publishAgain.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        var withdrawn = await (await manager.PostAsJsonAsync($"/api/v1/offerings/{draft.Id}/withdraw", new OfferingTransitionRequest(published.Version), WelkinJson.Client, Ct))
            .ReadAsync<OfferingView>();
        withdrawn.State.ShouldBe(OfferingState.Withdrawn);
        withdrawn.Withdrawn.ShouldNotBeNull();
        (await app.Anonymous().PublicCatalogAsync(prefix)).ShouldBeEmpty();
        await (await app.Anonymous().GetAsync($"/api/v1/catalog/offerings/{draft.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");

        // Withdrawn is terminal.
        var republish = await manager.PostAsJsonAsync($"/api/v1/offerings/{draft.Id}/publish", new OfferingTransitionRequest(), WelkinJson.Client, Ct);
        await republish.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var rewithdraw = await manager.PostAsJsonAsync($"/api/v1/offerings/{draft.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct);
        await rewithdraw.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var reedit = await manager.PutAsJsonAsync($"/api/v1/offerings/{draft.Id}",
            new UpdateOfferingRequest(CatalogApi.Compute(prefix + "again", template.Id)), WelkinJson.Client, Ct);
        await reedit.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        // The provider side still sees it.
        (await (await manager.GetAsync($"/api/v1/offerings/{draft.Id}", Ct)).ReadAsync<OfferingView>()).State.ShouldBe(OfferingState.Withdrawn);
    }

    [Fact]
    public async Task Update_WhenDraft_ReplacesSpec_AndWhenPublished_Returns409()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var draft = await manager.CreateOfferingAsync(CatalogApi.Storage("disk"));

        var updated = await (await manager.PutAsJsonAsync($"/api/v1/offerings/{draft.Id}",
            new UpdateOfferingRequest(CatalogApi.Storage("disk v2") with { Storage = new StorageSpec(100, 500) }, draft.Version), WelkinJson.Client, Ct))
            .ReadAsync<OfferingView>();
        updated.Spec.Name.ShouldBe("disk v2");
        updated.Spec.Storage.ShouldBe(new StorageSpec(100, 500));
        updated.Version.ShouldBe(draft.Version + 1);

        await manager.PublishOfferingAsync(draft.Id);
        var edit = await manager.PutAsJsonAsync($"/api/v1/offerings/{draft.Id}", new UpdateOfferingRequest(CatalogApi.Storage("disk v3")), WelkinJson.Client, Ct);
        await edit.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        (await (await manager.GetAsync($"/api/v1/offerings/{draft.Id}", Ct)).ReadAsync<OfferingView>()).Spec.Name.ShouldBe("disk v2");
    }

    [Fact]
    public async Task Update_WithStaleVersion_Returns412()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var draft = await manager.CreateOfferingAsync(CatalogApi.Storage("stale"));
        await (await manager.PutAsJsonAsync($"/api/v1/offerings/{draft.Id}", new UpdateOfferingRequest(CatalogApi.Storage("fresh"), draft.Version), WelkinJson.Client, Ct))
            .ReadAsync<OfferingView>();

        var stale = await manager.PutAsJsonAsync($"/api/v1/offerings/{draft.Id}", new UpdateOfferingRequest(CatalogApi.Storage("late"), draft.Version), WelkinJson.Client, Ct);
        await stale.ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");

        var publish = await manager.PostAsJsonAsync($"/api/v1/offerings/{draft.Id}/publish", new OfferingTransitionRequest(draft.Version), WelkinJson.Client, Ct);
        await publish.ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        (await (await manager.GetAsync($"/api/v1/offerings/{draft.Id}", Ct)).ReadAsync<OfferingView>()).Spec.Name.ShouldBe("fresh");
    }

    [Fact]
    public async Task Create_FromDraftTemplate_Returns409()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var draftTemplate = await developer.CreateTemplateAsync(CatalogApi.Template("not yet"));

        var response = await manager.PostAsJsonAsync("/api/v1/offerings", CatalogApi.Compute("early", draftTemplate.Id), WelkinJson.Client, Ct);

        await response.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task RetiredTemplate_TakesNoNewOfferings_ButPublishedOfferingsKeepWorking()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var prefix = CatalogApi.UniquePrefix("retire");
        var template = await developer.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        var live = await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(CatalogApi.Compute(prefix + "live", template.Id))).Id);
        var pending = await manager.CreateOfferingAsync(CatalogApi.Compute(prefix + "pending", template.Id));

        await (await developer.PostAsJsonAsync($"/api/v1/templates/{template.Id}/retire", new TemplateTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<TemplateView>();

        var create = await manager.PostAsJsonAsync("/api/v1/offerings", CatalogApi.Compute(prefix + "new", template.Id), WelkinJson.Client, Ct);
        await create.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var publishPending = await manager.PostAsJsonAsync($"/api/v1/offerings/{pending.Id}/publish", new OfferingTransitionRequest(), WelkinJson.Client, Ct);
        await publishPending.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        (await app.Anonymous().PublicCatalogAsync(prefix)).Select(o => o.Id).ShouldBe([live.Id]);
        var withdrawn = await (await manager.PostAsJsonAsync($"/api/v1/offerings/{live.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<OfferingView>();
        withdrawn.State.ShouldBe(OfferingState.Withdrawn);
    }

    [Fact]
    public async Task Create_WithRestrictions_NarrowsTheTemplatesChoices()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var template = await developer.PublishedTemplateAsync(CatalogApi.FlexibleTemplate("flexible"));
        VirtualSystemRestriction[] choices =
        [
            new("app", Vcpus: new Choice<int>([2, 4], 4), MemoryMiB: new Choice<long>([8192], 8192), DatabaseManager: new Choice<string>(["mysql"], "mysql"),
                FixedProperties: new Dictionary<string, string> { ["workers"] = "8", ["ratio"] = "0.75" }),
        ];

        var offering = await manager.CreateOfferingAsync(CatalogApi.Compute("big app", template.Id, choices: choices));

        var restriction = offering.Spec.Choices!.Single();
        restriction.Vcpus!.Allowed.ShouldBe([2, 4]);
        restriction.Vcpus.Default.ShouldBe(4);
        restriction.FixedProperties!["workers"].ShouldBe("8");
        offering.Spec.TemplateVersion.ShouldBe(1);
    }

    [Fact]
    public async Task List_ShowsEveryStateToProviderRoles_AndFiltersByState()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var billing = await app.ProviderPrincipalAsync(Role.BillingAdmin);
        var prefix = CatalogApi.UniquePrefix("states");
        var draft = await manager.CreateOfferingAsync(CatalogApi.Storage(prefix + "draft"));
        var published = await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(CatalogApi.Storage(prefix + "published"))).Id);
        var withdrawn = await manager.PublishOfferingAsync((await manager.CreateOfferingAsync(CatalogApi.Storage(prefix + "withdrawn"))).Id);
        await (await manager.PostAsJsonAsync($"/api/v1/offerings/{withdrawn.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<OfferingView>();
        var query = $"namePrefix={Uri.EscapeDataString(prefix)}";

        var all = await (await billing.GetAsync($"/api/v1/offerings?{query}", Ct)).ReadAsync<Page<OfferingView>>();
        all.Items.Select(o => (o.Id, o.State)).ShouldBe(
            [(draft.Id, OfferingState.Draft), (published.Id, OfferingState.Published), (withdrawn.Id, OfferingState.Withdrawn)]);
        var onlyDrafts = await (await billing.GetAsync($"/api/v1/offerings?{query}&state=draft", Ct)).ReadAsync<Page<OfferingView>>();
        onlyDrafts.Items.Select(o => o.Id).ShouldBe([draft.Id]);
        (await app.Anonymous().PublicCatalogAsync(prefix, pageSize: 1)).Select(o => o.Id).ShouldBe([published.Id]);
    }

    [Fact]
    public async Task StateChanges_AreAuditedUnderTheirActionNames()
    {
        var manager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var offering = await manager.CreateOfferingAsync(CatalogApi.Storage("audited"));
        await (await manager.PutAsJsonAsync($"/api/v1/offerings/{offering.Id}", new UpdateOfferingRequest(CatalogApi.Storage("audited 2")), WelkinJson.Client, Ct))
            .ReadAsync<OfferingView>();
        await manager.PublishOfferingAsync(offering.Id);
        await (await manager.PostAsJsonAsync($"/api/v1/offerings/{offering.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<OfferingView>();

        var entries = (await app.Admin().AuditAsync()).Where(e => e.Target == offering.Id).ToList();

        entries.Select(e => e.Action).ShouldBe(["offering.create", "offering.update", "offering.publish", "offering.withdraw"]);
        entries.ShouldAllBe(e => e.Outcome == "success");
    }
}
