using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Portal.Tests.Compute;

/// <summary>A portal cloud whose simulated fabric answers at once, so provisioning and machine actions finish quickly, and which measures machines every second.</summary>
public class ComputePortalApp : PortalApp
{
    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var settings = base.Settings;
            foreach (var name in new[] { "Create", "Start", "Stop", "Pause", "Resume", "Reboot", "Resize", "Destroy", "Migrate", "Attach", "Detach" })
            {
                settings["Fabric:Timing:" + name] = "00:00:00";
            }
            // A sample a second, so a machine's page has measurements to chart within a test.
            settings["Monitoring:Interval"] = "00:00:01";
            return settings;
        }
    }
}

/// <summary>An account of the portal tests: its name to sign in with and its admin's API client.</summary>
public sealed record Tenant(SignUpResponse SignUp, HttpClient Client)
{
    public string Name => SignUp.Account.Name;

    public string AccountId => SignUp.Account.Id;
}

/// <summary>Accounts, offerings, contracts and instances made through the API, for the portal's compute pages to show.</summary>
public static class ComputeData
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>An offering's one virtual system, "app", with two vCPU and two memory choices.</summary>
    public static readonly VirtualSystemRestriction AppChoices =
        new("app", Vcpus: new Choice<int>([1, 2], 1), MemoryMiB: new Choice<long>([2048, 4096], 2048));

    public static async Task<Tenant> TenantAsync(PortalApp app, string prefix)
    {
        var (signUp, client) = await app.SignUpWithPasswordAsync(prefix);
        await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 40, ["storage-unit"] = 40 }), WelkinJson.Client, Ct))
            .ReadAsync<AccountView>();
        return new Tenant(signUp, client);
    }

    /// <summary>
    /// A published compute offering on a one-tier template ("app": 1, 2 or 4 vCPUs, with <paramref name="dataVolumes"/>)
    /// restricted to <see cref="AppChoices"/>.
    /// </summary>
    public static async Task<OfferingView> OfferingAsync(PortalApp app, string what = "compute", IReadOnlyList<DataVolumeSpec>? dataVolumes = null)
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix(what);
        var spec = CatalogApi.FlexibleTemplate(prefix + "template");
        spec = spec with { VirtualSystems = [spec.VirtualSystems[0] with { DataVolumes = dataVolumes }] };
        var template = await admin.PublishedTemplateAsync(spec);
        return await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "offering", template.Id, choices: [AppChoices]))).Id);
    }

    public static async Task<ContractView> ProposedAsync(this Tenant tenant, OfferingView offering, int quantity = 3, string? name = null) =>
        await (await tenant.Client.PostAsJsonAsync("/api/v1/contracts",
            new ContractRequest([new ContractItemRequest(offering.Id, quantity)], name ?? "ctr " + Guid.NewGuid().ToString("n")[..8]), WelkinJson.Client, Ct))
            .ReadAsync<ContractView>(HttpStatusCode.Created);

    public static async Task<ContractView> ActiveAsync(this Tenant tenant, OfferingView offering, int quantity = 3, string? name = null)
    {
        var proposed = await tenant.ProposedAsync(offering, quantity, name);
        return await (await tenant.Client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<ContractView>();
    }

    public static async Task<ContractView> ContractAsync(this Tenant tenant, string id) =>
        await (await tenant.Client.GetAsync($"/api/v1/contracts/{id}", Ct)).ReadAsync<ContractView>();

    /// <summary>Provisions <paramref name="count"/> machines of "app" under the contract and waits for the job.</summary>
    public static async Task<InstanceView> ProvisionedAsync(this Tenant tenant, ContractView contract, int count = 1, string? name = null)
    {
        var accepted = await (await tenant.Client.PostAsJsonAsync("/api/v1/instances",
            new ProvisionRequest(contract.Id, name ?? "ins-" + Guid.NewGuid().ToString("n")[..8], VirtualSystems: [new VirtualSystemChoice("app", count)]), WelkinJson.Client, Ct))
            .ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        var job = await tenant.WaitAsync(accepted.Job.Id);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        return await tenant.InstanceAsync(accepted.Resource.Id);
    }

    public static Task<JobView> WaitAsync(this Tenant tenant, string jobId) =>
        Polling.FinishedAsync(async ct => await (await tenant.Client.GetAsync($"/api/v1/jobs/{jobId}", ct)).ReadAsync<JobView>(), Ct);

    public static async Task<InstanceView> InstanceAsync(this Tenant tenant, string id) =>
        await (await tenant.Client.GetAsync($"/api/v1/instances/{id}", Ct)).ReadAsync<InstanceView>();

    public static async Task<MachineView> MachineAsync(this Tenant tenant, string id) =>
        await (await tenant.Client.GetAsync($"/api/v1/machines/{id}", Ct)).ReadAsync<MachineView>();

    public static async Task<List<MachineView>> MachinesAsync(this Tenant tenant, string instanceId) =>
        [.. (await (await tenant.Client.GetAsync($"/api/v1/machines?instanceId={instanceId}&limit=1000", Ct)).ReadAsync<Page<MachineView>>()).Items];

    /// <summary>Runs a machine action through the API and waits for its job.</summary>
    public static async Task ActAsync(this Tenant tenant, string machineId, string action)
    {
        var accepted = await (await tenant.Client.PostAsJsonAsync($"/api/v1/machines/{machineId}/{action}", new MachineActionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<AcceptedView<MachineView>>(HttpStatusCode.Accepted);
        (await tenant.WaitAsync(accepted.Job.Id)).State.ShouldBe(JobState.Succeeded);
    }

    /// <summary>A fresh browser page signed in as the tenant's admin; dispose the context at the end of the test.</summary>
    public static Task<(IBrowserContext Context, IPage Page)> SignedInAsync(this Browser browser, PortalApp app, Tenant tenant) =>
        browser.SignedInAsync(app, tenant.Name);

    /// <summary>A new account with one running machine of "app" on a new offering: the account and the machine's id.</summary>
    public static async Task<(Tenant Tenant, string MachineId)> OneMachineAsync(PortalApp app, string prefix)
    {
        var tenant = await TenantAsync(app, prefix);
        var contract = await tenant.ActiveAsync(await OfferingAsync(app), 1);
        return (tenant, (await tenant.ProvisionedAsync(contract)).Machines.Single());
    }

    /// <summary>Clicks a button and waits for the job page it leads to to show the job finished; answers the job's state.</summary>
    public static async Task<string> ClickToJobAsync(this IPage page, string button)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = button, Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/jobs/**");
        return await page.JobStateAsync();
    }

    /// <summary>Waits on the job page until the job has finished and answers its state.</summary>
    public static async Task<string> JobStateAsync(this IPage page)
    {
        var state = page.Locator("#job-state").Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex("^(succeeded|failed|cancelled)$") });
        try
        {
            await state.WaitForAsync(new() { Timeout = 15_000 });
        }
        catch (TimeoutException e)
        {
            throw new ShouldAssertException($"The job page at {page.Url} shows no finished job: {await page.Locator("main").InnerTextAsync()}", e);
        }
        return (await state.TextContentAsync())!;
    }

    /// <summary>A well-formed id that names nothing: <paramref name="id"/> with its last character changed.</summary>
    public static string Absent(string id) => id[..^1] + (id[^1] == 'z' ? 'y' : 'z');
}
