using Welkin.Client;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Portal.Tests;

/// <summary>
/// An account whose admin can sign in to the portal, with an active contract of a small compute line (line 0,
/// when machines are asked for) and a storage line of 100 GiB increments; the API client acts as its admin.
/// </summary>
public sealed record StorageTenant(SignUpResponse SignUp, WelkinClient Api, ContractView Contract, IReadOnlyList<MachineView> Machines)
{
    private static readonly HttpClient Http = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public string AccountName => SignUp.Account.Name;

    public string AccountId => SignUp.Account.Id;

    /// <summary>The storage line's item number in the contract.</summary>
    public int StorageItem => Contract.Items.Single(i => i.Kind == OfferingKind.Storage).Item;

    public static WelkinClient Admin(PortalApp app) => new(Http, app.Address, app.AdminToken);

    public static async Task<StorageTenant> CreateAsync(PortalApp app, string prefix, int machines = 0, int increments = 3)
    {
        var (signUp, _) = await app.SignUpWithPasswordAsync(prefix);
        var admin = Admin(app);
        await admin.Accounts.SetLimitsAsync(signUp.Account.Id,
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = Math.Max(machines, 1), ["storage-unit"] = 100 }), Ct);
        var adminHttp = app.Admin();
        var unique = CatalogApi.UniquePrefix(prefix);
        var lines = new List<ContractItemRequest>();
        if (machines > 0)
        {
            var template = await adminHttp.PublishedTemplateAsync(CatalogApi.Template(unique + "template", vcpus: 1, memoryMiB: 1024));
            var compute = await adminHttp.PublishOfferingAsync((await adminHttp.CreateOfferingAsync(CatalogApi.Compute(unique + "compute", template.Id))).Id);
            lines.Add(new ContractItemRequest(compute.Id, machines));
        }
        var storage = await adminHttp.PublishOfferingAsync((await adminHttp.CreateOfferingAsync(CatalogApi.Storage(unique + "disk"))).Id);
        lines.Add(new ContractItemRequest(storage.Id, increments));

        var api = new WelkinClient(Http, app.Address, signUp.Token.Secret);
        var proposed = await api.Contracts.RequestAsync(new ContractRequest(lines, Name: prefix + " contract"), Ct);
        var contract = await api.Contracts.AcceptAsync(proposed.Id, ct: Ct);
        IReadOnlyList<MachineView> running = [];
        if (machines > 0)
        {
            var accepted = await api.Instances.ProvisionAsync(
                new ProvisionRequest(contract.Id, Item: 0, VirtualSystems: [new VirtualSystemChoice("web", machines)]), Ct);
            var job = await api.WaitAsync(accepted.Job.Id);
            job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
            running = (await api.Machines.ListAsync(instanceId: accepted.Resource.Id, ct: Ct)).Items;
        }
        return new StorageTenant(signUp, api, contract, running);
    }

    /// <summary>A vault of 100 GiB on the storage line.</summary>
    public Task<VaultView> VaultAsync(string name) =>
        Api.Vaults.CreateAsync(new CreateVaultRequest(Contract.Id, 100, name, StorageItem), Ct);
}

public static class StorageTenantExtensions
{
    public static Task<JobView> WaitAsync(this WelkinClient api, string jobId) =>
        Polling.FinishedAsync(ct => api.Jobs.GetAsync(jobId, ct), TestContext.Current.CancellationToken);

    /// <summary>A well-formed id that names nothing: <paramref name="id"/> with its last character changed.</summary>
    public static string Missing(string id) => id[..^1] + (id[^1] == '0' ? '1' : '0');
}
