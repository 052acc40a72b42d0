using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Contracts;

public sealed class ContractRequestTests(ContractsApp app) : IClassFixture<ContractsApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Request_CopiesTheOfferingsTermsIntoTheProposal()
    {
        var tenant = await ContractsApi.TenantAsync(app);

        var response = await tenant.Client.RequestAsync(new ContractRequest(
            [new ContractItemRequest(tenant.Compute.Id, 3), new ContractItemRequest(tenant.Storage.Id, 5)], "web shop", 12));
        var contract = await response.ReadAsync<ContractView>(HttpStatusCode.Created);

        response.Headers.Location!.ToString().ShouldBe($"/api/v1/contracts/{contract.Id}");
        contract.State.ShouldBe(ContractState.Proposed);
        contract.AccountId.ShouldBe(tenant.AccountId);
        contract.Name.ShouldBe("web shop");
        contract.Revision.ShouldBe(1);
        contract.TermMonths.ShouldBe(12);
        contract.RequestedBy.ShouldBe(tenant.SignUp.Admin.Id);
        contract.ProposalExpires.ShouldBe(app.Clock.GetUtcNow().AddHours(24));
        contract.Accepted.ShouldBeNull();
        var compute = contract.Items[0];
        compute.Item.ShouldBe(0);
        compute.OfferingId.ShouldBe(tenant.Compute.Id);
        compute.OfferingName.ShouldBe(tenant.Compute.Spec.Name);
        compute.Kind.ShouldBe(OfferingKind.Compute);
        compute.Quantity.ShouldBe(3);
        compute.Units.ShouldBe(3);
        compute.LimitUnit.ShouldBe("compute-unit");
        compute.PricePlan.ShouldBeEquivalentTo(tenant.Compute.Spec.PricePlan);
        compute.Sla.ShouldBe(tenant.Compute.Spec.Sla);
        compute.Terms.ShouldBe(tenant.Compute.Spec.Terms);
        compute.TemplateId.ShouldBe(tenant.Compute.Spec.TemplateId);
        compute.TemplateVersion.ShouldBe(tenant.Compute.Spec.TemplateVersion);
        var storage = contract.Items[1];
        storage.Kind.ShouldBe(OfferingKind.Storage);
        storage.Storage.ShouldBe(new StorageSpec(100, 10_000));
        storage.LimitUnit.ShouldBe("storage-unit");
        contract.Usage.ShouldBe([new ContractItemUsage(0, 3, 0), new ContractItemUsage(1, 5, 0)]);
        (await tenant.Client.GetContractAsync(contract.Id)).ShouldBeEquivalentTo(contract);
    }

    [Fact]
    public async Task Accept_MakesTheContractActiveWithItsTerm()
    {
        var tenant = await ContractsApi.TenantAsync(app);
        var proposed = await tenant.Client.ProposeAsync((tenant.Compute.Id, 2));

        await (await tenant.Client.TransitionAsync(proposed.Id, "accept", proposed.Version + 5)).ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        var active = await (await tenant.Client.TransitionAsync(proposed.Id, "accept", proposed.Version)).ReadAsync<ContractView>();

        active.State.ShouldBe(ContractState.Active);
        active.Accepted.ShouldBe(app.Clock.GetUtcNow());
        active.TermEnds.ShouldBe(app.Clock.GetUtcNow().AddMonths(1));
        active.Version.ShouldBe(proposed.Version + 1);
        await (await tenant.Client.TransitionAsync(proposed.Id, "accept")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await (await tenant.Client.TransitionAsync(proposed.Id, "reject")).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task Reject_ReturnsTheUnits()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 2);
        var proposed = await tenant.Client.ProposeAsync((tenant.Compute.Id, 2));
        await (await tenant.Client.RequestAsync(new ContractRequest([new ContractItemRequest(tenant.Compute.Id, 1)])))
            .ProblemAsync(HttpStatusCode.Conflict, "quota-exceeded");

        var rejected = await (await tenant.Client.TransitionAsync(proposed.Id, "reject")).ReadAsync<ContractView>();

        rejected.State.ShouldBe(ContractState.Rejected);
        await tenant.Client.ProposeAsync((tenant.Compute.Id, 2));
    }

    [Fact]
    public async Task Request_OnDraftOrWithdrawnOffering_IsRefused()
    {
        var tenant = await ContractsApi.TenantAsync(app);
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("unpub");
        var draft = await admin.CreateOfferingAsync(CatalogApi.Storage(prefix + "draft"));
        var withdrawn = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Storage(prefix + "gone"))).Id);
        await (await admin.PostAsJsonAsync($"/api/v1/offerings/{withdrawn.Id}/withdraw", new OfferingTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<OfferingView>();

        foreach (var id in new[] { draft.Id, withdrawn.Id })
        {
            var problem = await (await tenant.Client.RequestAsync(new ContractRequest([new ContractItemRequest(id, 1)])))
                .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
            problem.GetProperty("errors").TryGetProperty("items[0].offeringId", out _).ShouldBeTrue();
        }
    }

    [Theory]
    [InlineData(0, "items[0].quantity")]
    [InlineData(10_001, "items[0].quantity")]
    [InlineData(101, "items[0].quantity")]
    public async Task Request_WithBadQuantity_IsRefused(int quantity, string field)
    {
        var tenant = await ContractsApi.TenantAsync(app);

        // Storage: 101 increments of 100 GiB pass the offering's 10,000 GiB maximum.
        var problem = await (await tenant.Client.RequestAsync(new ContractRequest([new ContractItemRequest(tenant.Storage.Id, quantity)])))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Request_WithDuplicateOfferingNoItemsOrShortTerm_IsRefused()
    {
        var tenant = await ContractsApi.TenantAsync(app);
        var (longCompute, _) = await ContractsApi.PublishedOfferingsAsync(app, minimumMonths: 6);

        await (await tenant.Client.RequestAsync(new ContractRequest([new ContractItemRequest(tenant.Compute.Id, 1), new ContractItemRequest(tenant.Compute.Id, 2)])))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.RequestAsync(new ContractRequest([]))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.RequestAsync(new ContractRequest(Enumerable.Range(0, 21).Select(_ => new ContractItemRequest(tenant.Compute.Id, 1)).ToList())))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.RequestAsync(new ContractRequest([new ContractItemRequest(longCompute.Id, 1)], TermMonths: 3)))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var defaulted = await tenant.Client.ProposeAsync((longCompute.Id, 1));
        defaulted.TermMonths.ShouldBe(6);
    }

    [Fact]
    public async Task Request_OverTheLimit_NamesUnitLimitOrderedAndRequested()
    {
        var tenant = await ContractsApi.TenantAsync(app, computeUnits: 5);
        await tenant.Client.ProposeAsync((tenant.Compute.Id, 4));

        var problem = await (await tenant.Client.RequestAsync(new ContractRequest([new ContractItemRequest(tenant.Compute.Id, 2)])))
            .ProblemAsync(HttpStatusCode.Conflict, "quota-exceeded");

        problem.GetProperty("detail").GetString().ShouldBe("Limit of compute-unit exceeded: limit 5, ordered 4, requested 2.");
    }

    [Fact]
    public async Task Viewer_CannotRequestButCanRead()
    {
        var tenant = await ContractsApi.TenantAsync(app);
        var contract = await tenant.Client.ProposeAsync((tenant.Compute.Id, 1));
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);

        await (await viewer.RequestAsync(new ContractRequest([new ContractItemRequest(tenant.Compute.Id, 1)]))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await viewer.TransitionAsync(contract.Id, "accept")).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        (await viewer.GetContractAsync(contract.Id)).Id.ShouldBe(contract.Id);
        var page = await (await viewer.GetAsync("/api/v1/contracts", Ct)).ReadAsync<Page<ContractView>>();
        page.Items.Select(c => c.Id).ShouldBe([contract.Id]);
    }

    [Fact]
    public async Task AnotherAccount_SeesNotFound()
    {
        var tenant = await ContractsApi.TenantAsync(app);
        var contract = await tenant.Client.ProposeAsync((tenant.Compute.Id, 1));
        var (_, other) = await app.SignUpAsync("other");

        var foreign = await other.GetAsync($"/api/v1/contracts/{contract.Id}", Ct);
        await foreign.ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await other.TransitionAsync(contract.Id, "accept")).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        (await (await other.GetAsync("/api/v1/contracts", Ct)).ReadAsync<Page<ContractView>>()).Items.ShouldBeEmpty();
        await (await other.GetAsync("/api/v1/contracts/not-an-id", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
        (await tenant.Client.GetContractAsync(contract.Id)).State.ShouldBe(ContractState.Proposed);
    }
}
