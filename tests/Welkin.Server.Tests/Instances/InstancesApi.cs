using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Instances;

/// <summary>Tenants with active contracts and the Service Manager calls the tests repeat.</summary>
public static class InstancesApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed record Tenant(SignUpResponse SignUp, HttpClient Client, ContractView Contract)
    {
        public string AccountId => SignUp.Account.Id;
    }

    /// <summary>A fresh account with an active contract for <paramref name="quantity"/> machines of an offering on <paramref name="template"/> (default: the catalog tests' one-tier template).</summary>
    public static async Task<Tenant> TenantAsync(
        WelkinApp app, int quantity = 4, long computeUnits = 10, TemplateSpec? template = null,
        IReadOnlyList<VirtualSystemRestriction>? choices = null, PlacementConstraints? offeringConstraints = null, PlacementConstraints? contractConstraints = null,
        BurstPolicy? burst = null)
    {
        var (signUp, client) = await app.SignUpAsync("sm");
        await ContractsApi.SetLimitsAsync(app, signUp.Account.Id, computeUnits, 100);
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("sm");
        var published = await admin.PublishedTemplateAsync(template ?? CatalogApi.Template(prefix + "template"));
        var spec = CatalogApi.Compute(prefix + "compute", published.Id, choices: choices) with { Constraints = offeringConstraints, Burst = burst };
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(spec)).Id);
        var proposed = await (await client.RequestAsync(new ContractRequest([new ContractItemRequest(offering.Id, quantity)], Constraints: contractConstraints)))
            .ReadAsync<ContractView>(HttpStatusCode.Created);
        return new Tenant(signUp, client, await client.AcceptAsync(proposed.Id));
    }

    public static Task<HttpResponseMessage> PostProvisionAsync(this HttpClient client, ProvisionRequest request) =>
        client.PostAsJsonAsync("/api/v1/instances", request, WelkinJson.Client, Ct);

    public static async Task<AcceptedView<InstanceView>> ProvisionAsync(this HttpClient client, ProvisionRequest request) =>
        await (await client.PostProvisionAsync(request)).ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);

    /// <summary>Provisions and waits for the job; returns the finished job and the instance.</summary>
    public static async Task<(JobView Job, InstanceView Instance)> ProvisionedAsync(this HttpClient client, ProvisionRequest request)
    {
        var accepted = await client.ProvisionAsync(request);
        var job = await client.WaitAsync(accepted.Job.Id);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        return (job, await client.GetInstanceAsync(accepted.Resource.Id));
    }

    public static Task<HttpResponseMessage> PostAsync(this HttpClient client, string path, object? body = null) =>
        client.PostAsJsonAsync(path, body ?? new { }, WelkinJson.Client, Ct);

    /// <summary>Polls the job until it is finished (the runner is woken by every accepted request, so this is short).</summary>
    public static Task<JobView> WaitAsync(this HttpClient client, string jobId) =>
        Polling.FinishedAsync(async ct => await (await client.GetAsync($"/api/v1/jobs/{jobId}", ct)).ReadAsync<JobView>(), Ct);

    /// <summary>Runs a machine action and waits for its job.</summary>
    public static async Task<JobView> ActAsync(this HttpClient client, string machineId, string verb, object? body = null)
    {
        var accepted = await (await client.PostAsync($"/api/v1/machines/{machineId}/{verb}", body)).ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        return await client.WaitAsync(accepted.Job.Id);
    }

    public static async Task<InstanceView> GetInstanceAsync(this HttpClient client, string id) =>
        await (await client.GetAsync($"/api/v1/instances/{id}", Ct)).ReadAsync<InstanceView>();

    public static async Task<MachineView> GetMachineAsync(this HttpClient client, string id) =>
        await (await client.GetAsync($"/api/v1/machines/{id}", Ct)).ReadAsync<MachineView>();

    public static async Task<List<MachineView>> MachinesAsync(this HttpClient client, string instanceId) =>
        (await (await client.GetAsync($"/api/v1/machines?instanceId={instanceId}", Ct)).ReadAsync<Page<MachineView>>()).Items.ToList();

    public static async Task<List<EventView>> EventsAsync(this HttpClient client, string target) =>
        (await (await client.GetAsync($"/api/v1/events?target={target}&limit=1000", Ct)).ReadAsync<Page<EventView>>()).Items.ToList();

    public static async Task<long> ContractProvisionedAsync(this HttpClient client, string contractId) =>
        (await client.GetContractAsync(contractId)).Usage.Sum(u => u.Provisioned);

    /// <summary>The account's provisioned units of a limit unit, read from the database.</summary>
    public static async Task<long> AccountProvisionedAsync(this WelkinApp app, string accountId, string unit = "compute-unit") =>
        await app.Services.GetRequiredService<IDatabase>().ExecuteScalarAsync<long>(
            "SELECT COALESCE(MAX(provisioned), 0) FROM quotas WHERE account_id = @AccountId AND unit = @Unit", new { AccountId = accountId, Unit = unit }, Ct);

    public static ProvisionRequest Request(Tenant tenant, int count = 1, string? sshKey = null, bool antiAffinity = false, PlacementConstraints? constraints = null) =>
        new(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", count)], SshPublicKey: sshKey, AntiAffinity: antiAffinity, Constraints: constraints);

    /// <summary>A syntactically valid ed25519 public key line (random key material).</summary>
    public static string SshKey()
    {
        var type = "ssh-ed25519"u8.ToArray();
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var blob = new byte[4 + type.Length + 4 + key.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(blob, type.Length);
        type.CopyTo(blob, 4);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(blob.AsSpan(4 + type.Length), key.Length);
        key.CopyTo(blob, 8 + type.Length);
        return "ssh-ed25519 " + Convert.ToBase64String(blob) + " test@welkin";
    }
}
