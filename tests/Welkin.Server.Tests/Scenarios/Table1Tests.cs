using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Scenarios;

/// <summary>
/// The DMTF white paper's Table 1 as narrated, through the HTTP API: ProviderCo publishes twelve
/// templates and storage; ConsumerCo's business manager establishes the relationship and registers
/// three roles; Fred contracts for up to three 4-processor 8 GB servers and up to 500 GB of storage,
/// provisions them from a template that chooses the operating system and software, configures
/// network and storage; two servers are deactivated and one activated again; the business manager
/// raises the limits by 25 compute and 25 storage units and adds three engineers (six roles); Fred
/// terminates the contract, freeing servers and storage; the business manager terminates the
/// relationship, which removes the access roles.
/// </summary>
public sealed class Table1Tests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Table1_FromTemplatesToTerminatedRelationship()
    {
        // Create Service Template, Publish Service Template, Create Offering.
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var catalogManager = await app.ProviderPrincipalAsync(Role.CatalogManager);
        var catalog = await ProviderCo.PublishCatalogAsync(developer, catalogManager, CatalogApi.UniquePrefix("providerco"));
        catalog.Templates.Count.ShouldBe(12);
        var server = catalog.Compute(4, 8192, "open-source");
        var storage = catalog.Storage;

        // Establish Relationship: the business manager signs ConsumerCo up through the catalog and
        // registers three roles that may request resources within the account's limits.
        var (signUp, businessManager) = await app.SignUpAsync("consumerco");
        var accountId = signUp.Account.Id;
        (await businessManager.PutAsJsonAsync($"/api/v1/accounts/{accountId}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5, ["storage-unit"] = 5 }), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
        var fred = await AccountPrincipals.CreateAsync(app, businessManager, Role.Engineer);
        await AccountPrincipals.CreateAsync(app, businessManager, Role.Engineer);
        await AccountPrincipals.CreateAsync(app, businessManager, Role.Engineer);
        (await RequestersAsync(businessManager)).ShouldBe(3);

        // Establish Contract: Fred requests up to three servers and up to 500 GB; ProviderCo
        // answers with a proposal, which Fred accepts.
        var proposal = await fred.ProposeAsync((server.Id, 3), (storage.Id, 5));
        proposal.State.ShouldBe(ContractState.Proposed);
        proposal.ProposalExpires.ShouldNotBeNull();
        proposal.Items[0].PricePlan.Rates.ShouldContain(r => r.Metric == "cpu-hour" && r.Price == 0.13m);
        proposal.Items[1].PricePlan.Rates.ShouldContain(r => r.Metric == "storage-tb-day" && r.Price == 5.00m);
        proposal.Items[0].Sla.AvailabilityPercent.ShouldBe(99.9m);
        var contract = await fred.AcceptAsync(proposal.Id);
        contract.State.ShouldBe(ContractState.Active);
        var quotas = await QuotasAsync(businessManager, accountId);
        quotas["compute-unit"].Ordered.ShouldBe(3);
        quotas["storage-unit"].Ordered.ShouldBe(5);

        // Provision Resource, Deploy Virtual Image: all resources at once, with the template's
        // operating system and software, and a property chosen.
        var accepted = await fred.ProvisionAsync(new ProvisionRequest(contract.Id, "orders", Item: 0,
            VirtualSystems: [new VirtualSystemChoice("server", 3, Properties: new Dictionary<string, string> { ["http.port"] = "8080" })]));
        var job = await fred.WaitAsync(accepted.Job.Id);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var machines = await fred.MachinesAsync(accepted.Resource.Id);
        machines.Count.ShouldBe(3);
        machines.ShouldAllBe(m => m.State == MachineState.Running && m.Vcpus == 4 && m.MemoryMiB == 8192 && m.DiskGiB == 100);
        machines.ShouldAllBe(m => m.OperatingSystem == "debian" && m.Software["httpServer"] == "apache" && m.Software["databaseManager"] == "postgresql");
        machines.ShouldAllBe(m => m.Properties["http.port"] == "8080" && m.Access != null && m.Access.Endpoints.Count > 0);
        var result = job.Result!.Value.Deserialize<ProvisionResult>(WelkinJson.Client)!;
        result.Machines.ShouldAllBe(m => m.Access!.Password != null, "no key was given, so each machine's password is shown once");

        // Configuration Manager: the servers use ProviderCo's network and storage.
        var tenant = new ConfigurationApi.Tenant(signUp, fred, contract);
        var network = await (await fred.PostAsJsonAsync("/api/v1/networks", new CreateNetworkRequest("orders", "10.20.0.0/24"), WelkinJson.Client, Ct))
            .ReadAsync<NetworkView>(HttpStatusCode.Created);
        foreach (var m in machines)
        {
            var connect = await (await fred.PostAsync($"/api/v1/networks/{network.Id}/connect", new ConnectNetworkRequest(m.Id)))
                .ReadAsync<AcceptedView<NetworkView>>(HttpStatusCode.Accepted);
            (await fred.WaitAsync(connect.Job.Id)).State.ShouldBe(JobState.Succeeded);
        }
        var connected = await (await fred.GetAsync($"/api/v1/networks/{network.Id}", Ct)).ReadAsync<NetworkView>();
        connected.Attachments.Select(a => a.Address).Distinct().Count().ShouldBe(3);
        var volume = await tenant.CreateVolumeAsync(500, "orders-data");
        volume.SizeGiB.ShouldBe(500);
        var (attachJob, attached) = await fred.AttachedAsync(volume.Id, machines[0].Id);
        attachJob.State.ShouldBe(JobState.Succeeded);
        attached.MachineId.ShouldBe(machines[0].Id);
        (await fred.PutAsJsonAsync($"/api/v1/machines/{machines[0].Id}/configuration",
            new ConfigurationRequest(new Dictionary<string, string> { ["site.name"] = "orders" }), WelkinJson.Client, Ct)).IsSuccessStatusCode.ShouldBeTrue();
        (await fred.GetMachineAsync(machines[0].Id)).Properties["site.name"].ShouldBe("orders");
        quotas = await QuotasAsync(businessManager, accountId);
        quotas["compute-unit"].Provisioned.ShouldBe(3);
        quotas["storage-unit"].Provisioned.ShouldBe(5);

        // Change Resource Capacity: usage is lower than expected, two servers are deactivated;
        // later load rises and one is activated again.
        (await fred.ActAsync(machines[1].Id, "stop")).State.ShouldBe(JobState.Succeeded);
        (await fred.ActAsync(machines[2].Id, "stop")).State.ShouldBe(JobState.Succeeded);
        (await fred.ActAsync(machines[1].Id, "start")).State.ShouldBe(JobState.Succeeded);
        var states = (await fred.MachinesAsync(accepted.Resource.Id)).ToDictionary(m => m.Id, m => m.State);
        states[machines[0].Id].ShouldBe(MachineState.Running);
        states[machines[1].Id].ShouldBe(MachineState.Running);
        states[machines[2].Id].ShouldBe(MachineState.Inactive);

        // The event log has the exact transitions metering needs, with sizes.
        var events = await AllEventsAsync(fred);
        foreach (var m in machines)
        {
            var mine = events.Where(e => e.Target == m.Id).ToList();
            mine.Count(e => e.Type == "machine.provisioned").ShouldBe(1);
            mine.Where(e => e.Type is "machine.activated" or "machine.deactivated").ShouldAllBe(e => e.Data["vcpus"] == "4" && e.Data["memoryMiB"] == "8192");
        }
        events.Count(e => e.Type == "machine.deactivated").ShouldBe(2);
        events.Count(e => e.Type == "machine.activated").ShouldBe(4, "three at provisioning, one reactivation");
        events.ShouldContain(e => e.Type == "volume.provisioned" && e.Target == volume.Id && e.Data["sizeGiB"] == "500");

        // Update Contract: business grows; the business manager raises the account limit by 25
        // compute and 25 storage units and adds three engineers, six roles in all.
        (await businessManager.PutAsJsonAsync($"/api/v1/accounts/{accountId}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 30, ["storage-unit"] = 30 }), WelkinJson.Client, Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
        for (var i = 0; i < 3; i++)
        {
            await AccountPrincipals.CreateAsync(app, businessManager, Role.Engineer);
        }
        (await RequestersAsync(businessManager)).ShouldBe(6);
        quotas = await QuotasAsync(businessManager, accountId);
        quotas["compute-unit"].Limit.ShouldBe(30);
        quotas["storage-unit"].Limit.ShouldBe(30);
        // ... and expands the original contract within the new limits; the history stays readable.
        var amended = await (await fred.PostAsync($"/api/v1/contracts/{contract.Id}/amendments",
            new ContractAmendmentRequest([new ContractItemRequest(server.Id, 5), new ContractItemRequest(storage.Id, 10)], Reason: "business increases")))
            .ReadAsync<ContractView>();
        amended.Revision.ShouldBe(2);
        amended.Items.Select(i => i.Quantity).ShouldBe([5, 10]);
        var revisions = await (await fred.GetAsync($"/api/v1/contracts/{contract.Id}/revisions", Ct)).ReadAsync<List<ContractRevisionView>>();
        revisions.Select(r => r.Revision).ShouldBe([1, 2]);
        revisions[0].Items.Select(i => i.Quantity).ShouldBe([3, 5]);

        // Terminate Contract: Fred terminates; the servers and the associated storage are freed.
        var termination = await (await fred.PostAsync($"/api/v1/contracts/{contract.Id}/terminate", new ContractTransitionRequest()))
            .ReadAsync<AcceptedView<ContractView>>(HttpStatusCode.Accepted);
        (await fred.WaitAsync(termination.Job.Id)).State.ShouldBe(JobState.Succeeded);
        (await fred.GetContractAsync(contract.Id)).State.ShouldBe(ContractState.Terminated);
        (await fred.MachinesAsync(accepted.Resource.Id)).ShouldAllBe(m => m.State == MachineState.Terminated);
        (await fred.GetVolumeAsync(volume.Id)).State.ShouldBe(VolumeState.Deleted);
        quotas = await QuotasAsync(businessManager, accountId);
        quotas.Values.ShouldAllBe(q => q.Ordered == 0 && q.Provisioned == 0);
        events = await AllEventsAsync(fred);
        events.Count(e => e.Type == "machine.released").ShouldBe(3);
        events.ShouldContain(e => e.Type == "volume.released" && e.Target == volume.Id);

        // Terminate the relationship: the business manager closes the account, which removes the
        // access roles and records what the final bill needs.
        var closed = await (await businessManager.PostAsync($"/api/v1/accounts/{accountId}/close", new CloseAccountRequest(Reason: "market collapsed")))
            .ReadAsync<CloseAccountResponse>();
        closed.Account.State.ShouldBe(AccountState.Closed);
        (await fred.GetAsync($"/api/v1/contracts/{contract.Id}", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await businessManager.GetAsync($"/api/v1/accounts/{accountId}", Ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var admin = app.Admin();
        var final = await (await admin.GetAsync($"/api/v1/events?accountId={accountId}&type=account.closed", Ct)).ReadAsync<Page<EventView>>();
        final.Items.ShouldHaveSingleItem().Data.Keys.ShouldContain("closedAt");

        // Every step is in the audit log, and the chain holds.
        var audit = await CatalogApi.AuditAsync(admin);
        foreach (var action in new[] { "contract.request", "contract.accept", "instance.provision", "contract.amend", "contract.terminate", "account.close" })
        {
            audit.ShouldContain(e => e.Action == action && e.AccountId == accountId && e.Outcome == "success", action);
        }
        (await (await admin.PostAsync("/api/v1/audit/verify")).ReadAsync<AuditVerification>()).Valid.ShouldBeTrue();
    }

    private static async Task<int> RequestersAsync(HttpClient businessManager)
    {
        var principals = await (await businessManager.GetAsync("/api/v1/principals?limit=500", Ct)).ReadAsync<Page<PrincipalView>>();
        return principals.Items.Count(p => p.Roles.Contains(Role.Engineer) && p.State == PrincipalState.Active);
    }

    private static async Task<Dictionary<string, QuotaView>> QuotasAsync(HttpClient client, string accountId) =>
        (await (await client.GetAsync($"/api/v1/accounts/{accountId}/quotas", Ct)).ReadAsync<List<QuotaView>>()).ToDictionary(q => q.Unit);

    private static async Task<List<EventView>> AllEventsAsync(HttpClient client)
    {
        var all = new List<EventView>();
        string? after = null;
        do
        {
            var page = await (await client.GetAsync("/api/v1/events?limit=1000" + (after is null ? "" : $"&after={after}"), Ct)).ReadAsync<Page<EventView>>();
            all.AddRange(page.Items);
            after = page.Next;
        }
        while (after is not null);
        return all;
    }
}
