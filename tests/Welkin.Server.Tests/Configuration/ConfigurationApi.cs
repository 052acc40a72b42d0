using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Configuration;

/// <summary>Tenants with an active contract for machines (line 0) and storage (line 1), and the volume and network calls the tests repeat.</summary>
public static class ConfigurationApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed record Tenant(SignUpResponse SignUp, HttpClient Client, ContractView Contract)
    {
        public string AccountId => SignUp.Account.Id;
    }

    /// <summary>
    /// A fresh account with an active contract: <paramref name="machines"/> machines of a small
    /// one-tier template (line 0) and <paramref name="increments"/> increments of 100 GiB (line 1).
    /// </summary>
    public static async Task<Tenant> TenantAsync(
        WelkinApp app, int machines = 2, int increments = 5, long storageUnits = 100, IReadOnlyList<VirtualSystemRestriction>? choices = null,
        TemplateSpec? template = null)
    {
        var (signUp, client) = await app.SignUpAsync("cfg");
        await ContractsApi.SetLimitsAsync(app, signUp.Account.Id, Math.Max(machines, 1), storageUnits);
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("cfg");
        var published = await admin.PublishedTemplateAsync(template ?? CatalogApi.Template(prefix + "template", vcpus: 1, memoryMiB: 1024));
        var compute = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "compute", published.Id, choices: choices))).Id);
        var storage = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Storage(prefix + "disk"))).Id);
        var proposed = await client.ProposeAsync((compute.Id, Math.Max(machines, 1)), (storage.Id, increments));
        return new Tenant(signUp, client, await client.AcceptAsync(proposed.Id));
    }

    /// <summary>Provisions <paramref name="count"/> running machines on the tenant's compute line.</summary>
    public static async Task<(InstanceView Instance, List<MachineView> Machines)> MachinesAsync(this Tenant tenant, int count = 1)
    {
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id, Item: 0, VirtualSystems: [new VirtualSystemChoice("web", count)]));
        return (instance, await tenant.Client.MachinesAsync(instance.Id));
    }

    public static Task<HttpResponseMessage> PostVolumeAsync(this HttpClient client, CreateVolumeRequest request) =>
        client.PostAsJsonAsync("/api/v1/volumes", request, WelkinJson.Client, Ct);

    public static async Task<VolumeView> CreateVolumeAsync(this Tenant tenant, long sizeGiB = 100, string? name = null) =>
        await (await tenant.Client.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, sizeGiB, name))).ReadAsync<VolumeView>(HttpStatusCode.Created);

    public static async Task<VolumeView> GetVolumeAsync(this HttpClient client, string id) =>
        await (await client.GetAsync($"/api/v1/volumes/{id}", Ct)).ReadAsync<VolumeView>();

    /// <summary>Attaches and waits for the job.</summary>
    public static async Task<(JobView Job, VolumeView Volume)> AttachedAsync(this HttpClient client, string volumeId, string machineId)
    {
        var accepted = await (await client.PostAsync($"/api/v1/volumes/{volumeId}/attach", new AttachVolumeRequest(machineId)))
            .ReadAsync<AcceptedView<VolumeView>>(HttpStatusCode.Accepted);
        accepted.Job.Action.ShouldBe("volume.attach");
        var job = await client.WaitAsync(accepted.Job.Id);
        return (job, await client.GetVolumeAsync(volumeId));
    }

    public static async Task<(JobView Job, VolumeView Volume)> DetachedAsync(this HttpClient client, string volumeId)
    {
        var accepted = await (await client.PostAsync($"/api/v1/volumes/{volumeId}/detach", new DetachVolumeRequest()))
            .ReadAsync<AcceptedView<VolumeView>>(HttpStatusCode.Accepted);
        var job = await client.WaitAsync(accepted.Job.Id);
        return (job, await client.GetVolumeAsync(volumeId));
    }

    public static Task<HttpResponseMessage> PostNetworkAsync(this HttpClient client, string name, string? cidr = null) =>
        client.PostAsJsonAsync("/api/v1/networks", new CreateNetworkRequest(name, cidr), WelkinJson.Client, Ct);

    public static async Task<NetworkView> CreateNetworkAsync(this HttpClient client, string name, string? cidr = null) =>
        await (await client.PostNetworkAsync(name, cidr)).ReadAsync<NetworkView>(HttpStatusCode.Created);

    public static async Task<NetworkView> GetNetworkAsync(this HttpClient client, string id) =>
        await (await client.GetAsync($"/api/v1/networks/{id}", Ct)).ReadAsync<NetworkView>();

    public static async Task<JobView> ConnectedAsync(this HttpClient client, string networkId, string machineId)
    {
        var accepted = await (await client.PostAsync($"/api/v1/networks/{networkId}/connect", new ConnectNetworkRequest(machineId)))
            .ReadAsync<AcceptedView<NetworkView>>(HttpStatusCode.Accepted);
        return await client.WaitAsync(accepted.Job.Id);
    }

    public static async Task<JobView> DisconnectedAsync(this HttpClient client, string networkId, string machineId)
    {
        var accepted = await (await client.PostAsync($"/api/v1/networks/{networkId}/disconnect", new DisconnectNetworkRequest(machineId)))
            .ReadAsync<AcceptedView<NetworkView>>(HttpStatusCode.Accepted);
        return await client.WaitAsync(accepted.Job.Id);
    }

    public static long StorageLineProvisioned(this ContractView contract) => contract.Usage.Single(u => u.Item == 1).Provisioned;

    /// <summary>
    /// Asks <paramref name="list"/> and the other account-scoped lists (contracts, jobs, events)
    /// for <paramref name="accountId"/> and requires the same status and problem from all of them.
    /// </summary>
    public static async Task<(HttpStatusCode Status, string Problem)> AnswersAsTheOtherListsAsync(this HttpClient client, string list, string accountId)
    {
        var answers = new List<(string List, HttpStatusCode Status, string Problem)>();
        foreach (var path in new[] { list, "/api/v1/contracts", "/api/v1/jobs", "/api/v1/events" })
        {
            using var response = await client.GetAsync($"{path}?accountId={Uri.EscapeDataString(accountId)}", Ct);
            answers.Add((path, response.StatusCode, WithoutRequestMembers(await response.Content.ReadAsStringAsync(Ct))));
        }
        foreach (var other in answers.Skip(1))
        {
            (other.Status, other.Problem).ShouldBe((answers[0].Status, answers[0].Problem), $"{list} and {other.List} answer accountId={accountId} differently");
        }
        return (answers[0].Status, answers[0].Problem);
    }

    private static string WithoutRequestMembers(string problemJson)
    {
        var members = System.Text.Json.JsonSerializer.Deserialize<SortedDictionary<string, System.Text.Json.JsonElement>>(problemJson)!;
        members.Remove("correlationId");
        members.Remove("traceId");
        return System.Text.Json.JsonSerializer.Serialize(members);
    }
}
