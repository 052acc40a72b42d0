using System.Net;
using Welkin.Contracts;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Configuration;

/// <summary>
/// The races of the Configuration Manager on PostgreSQL, whose READ COMMITTED writers really run
/// side by side (SQLite serialises them): line draws and address allocation must still hold.
/// </summary>
public sealed class PostgresConfigurationTests(PostgresWelkinApp app) : IClassFixture<PostgresWelkinApp>
{
    [Fact]
    public async Task CreateVolumes_Concurrently_OnPostgres_NeverTakeMoreThanTheLine()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, increments: 5);

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => tenant.Client.PostVolumeAsync(new CreateVolumeRequest(tenant.Contract.Id, 100))));

        responses.Count(r => r.StatusCode == HttpStatusCode.Created).ShouldBe(5);
        (await tenant.Client.GetContractAsync(tenant.Contract.Id)).StorageLineProvisioned().ShouldBe(5);
        (await app.AccountProvisionedAsync(tenant.AccountId, "storage-unit")).ShouldBe(5);
    }

    [Fact]
    public async Task Connect_FiftyMachinesConcurrently_OnPostgres_NeverHandsOutAnAddressTwice()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 50);
        var machines = (await tenant.MachinesAsync(50)).Machines;
        var network = await tenant.Client.CreateNetworkAsync("wide", "10.30.0.0/24");

        var responses = await Task.WhenAll(machines.Select(m => tenant.Client.PostAsync($"/api/v1/networks/{network.Id}/connect", new ConnectNetworkRequest(m.Id))));
        foreach (var response in responses)
        {
            var accepted = await response.ReadAsync<AcceptedView<NetworkView>>(HttpStatusCode.Accepted);
            (await tenant.Client.WaitAsync(accepted.Job.Id)).State.ShouldBe(JobState.Succeeded);
        }

        var addresses = (await tenant.Client.GetNetworkAsync(network.Id)).Attachments.Select(a => a.Address).ToList();
        addresses.Count.ShouldBe(50);
        addresses.Order(StringComparer.Ordinal).ShouldBe(Enumerable.Range(2, 50).Select(i => $"10.30.0.{i}").Order(StringComparer.Ordinal));
    }
}
