using System.Net;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Configuration;

public sealed class NetworkTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_WithoutCidr_Uses10000Slash24AndItsGateway()
    {
        var (_, client) = await app.SignUpAsync("net");

        var response = await client.PostNetworkAsync("backend");
        var network = await response.ReadAsync<NetworkView>(HttpStatusCode.Created);

        response.Headers.Location!.ToString().ShouldBe($"/api/v1/networks/{network.Id}");
        (network.Name, network.Cidr, network.Gateway, network.State).ShouldBe(("backend", "10.0.0.0/24", "10.0.0.1", NetworkState.Available));
        network.Attachments.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("10.0.0.0/15")]
    [InlineData("10.0.0.0/30")]
    [InlineData("10.0.0.1/24")]
    [InlineData("10.0.0/24")]
    [InlineData("300.0.0.0/24")]
    [InlineData("fd00::/64")]
    [InlineData("10.0.0.0")]
    public async Task Create_WithAnInvalidCidr_ReturnsValidationProblem(string cidr)
    {
        var (_, client) = await app.SignUpAsync("net");

        var problem = await (await client.PostNetworkAsync("bad", cidr)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        problem.GetProperty("errors").TryGetProperty("cidr", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Create_OverlappingOrSameName_ReturnsConflict_ButOtherAccountsAreIndependent()
    {
        var (_, client) = await app.SignUpAsync("net");
        await client.CreateNetworkAsync("a", "10.1.0.0/16");

        await (await client.PostNetworkAsync("b", "10.1.200.0/24")).ProblemAsync(HttpStatusCode.Conflict, "network-overlap");
        await (await client.PostNetworkAsync("a", "10.2.0.0/24")).ProblemAsync(HttpStatusCode.Conflict, "name-taken");
        (await client.CreateNetworkAsync("b", "10.2.0.0/24")).Cidr.ShouldBe("10.2.0.0/24");
        var (_, other) = await app.SignUpAsync("net");
        (await other.CreateNetworkAsync("a", "10.1.0.0/16")).Name.ShouldBe("a");
    }

    [Fact]
    public async Task ConnectAndDisconnect_AllocatesLowestFreeAddressAndDeterministicMac_OnTheDriver()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 3);
        var machines = (await tenant.MachinesAsync(3)).Machines;
        var network = await tenant.Client.CreateNetworkAsync("lan", "192.168.10.0/29");

        foreach (var m in machines)
        {
            (await tenant.Client.ConnectedAsync(network.Id, m.Id)).State.ShouldBe(JobState.Succeeded);
        }
        var connected = await tenant.Client.GetNetworkAsync(network.Id);

        connected.Attachments.Select(a => (a.MachineId, a.Address, a.State, a.Applied))
            .ShouldBe(machines.Select((m, i) => (m.Id, $"192.168.10.{i + 2}", NetworkAttachmentState.Connected, true)));
        connected.Attachments.Select(a => a.Mac).ShouldAllBe(mac => mac.StartsWith("52:54:00:", StringComparison.Ordinal));
        connected.Attachments.Select(a => a.Mac).Distinct().Count().ShouldBe(3);
        var nic = app.Driver.Describe(machines[1].Id)!.Networks.ShouldHaveSingleItem();
        (nic.NetworkId, nic.Address, nic.Mac, nic.Cidr).ShouldBe((network.Id, "192.168.10.3", connected.Attachments[1].Mac, "192.168.10.0/29"));
        await (await tenant.Client.PostAsync($"/api/v1/networks/{network.Id}/connect", new ConnectNetworkRequest(machines[0].Id)))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await (await tenant.Client.DeleteAsync($"/api/v1/networks/{network.Id}", Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");

        (await tenant.Client.DisconnectedAsync(network.Id, machines[1].Id)).State.ShouldBe(JobState.Succeeded);
        app.Driver.Describe(machines[1].Id)!.Networks.ShouldBeEmpty();
        // The freed address is the lowest free one again; the MAC is the same for the same pair.
        (await tenant.Client.ConnectedAsync(network.Id, machines[1].Id)).State.ShouldBe(JobState.Succeeded);
        var again = (await tenant.Client.GetNetworkAsync(network.Id)).Attachments.Single(a => a.MachineId == machines[1].Id);
        (again.Address, again.Mac).ShouldBe(("192.168.10.3", connected.Attachments[1].Mac));
    }

    [Fact]
    public async Task Connect_WhenEveryHostAddressIsTaken_ReturnsNetworkFull()
    {
        // A /29 has 8 addresses: network, gateway, five hosts, broadcast.
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 6);
        var machines = (await tenant.MachinesAsync(6)).Machines;
        var network = await tenant.Client.CreateNetworkAsync("tiny", "172.16.0.0/29");
        foreach (var m in machines.Take(5))
        {
            await tenant.Client.ConnectedAsync(network.Id, m.Id);
        }

        await (await tenant.Client.PostAsync($"/api/v1/networks/{network.Id}/connect", new ConnectNetworkRequest(machines[5].Id)))
            .ProblemAsync(HttpStatusCode.Conflict, "network-full");

        (await tenant.Client.GetNetworkAsync(network.Id)).Attachments.Select(a => a.Address).Order(StringComparer.Ordinal)
            .ShouldBe(["172.16.0.2", "172.16.0.3", "172.16.0.4", "172.16.0.5", "172.16.0.6"]);
    }

    [Fact]
    public async Task Connect_FiftyMachinesConcurrently_NeverHandsOutAnAddressTwice()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 50);
        var machines = (await tenant.MachinesAsync(50)).Machines;
        var network = await tenant.Client.CreateNetworkAsync("wide", "10.20.0.0/24");

        var responses = await Task.WhenAll(machines.Select(m => tenant.Client.PostAsync($"/api/v1/networks/{network.Id}/connect", new ConnectNetworkRequest(m.Id))));
        foreach (var response in responses)
        {
            var accepted = await response.ReadAsync<AcceptedView<NetworkView>>(HttpStatusCode.Accepted);
            (await tenant.Client.WaitAsync(accepted.Job.Id)).State.ShouldBe(JobState.Succeeded);
        }

        var attachments = (await tenant.Client.GetNetworkAsync(network.Id)).Attachments;
        attachments.Count.ShouldBe(50);
        attachments.Select(a => a.Address).Distinct().Count().ShouldBe(50);
        attachments.Select(a => a.Address).Order(StringComparer.Ordinal)
            .ShouldBe(Enumerable.Range(2, 50).Select(i => $"10.20.0.{i}").Order(StringComparer.Ordinal));
        foreach (var m in machines)
        {
            app.Driver.Describe(m.Id)!.Networks.ShouldHaveSingleItem().Address.ShouldBe(attachments.Single(a => a.MachineId == m.Id).Address);
        }
    }

    [Fact]
    public async Task Connect_AMachineOfAnotherAccount_ReturnsNotFound_AndAnotherAccountsNetworkIsInvisible()
    {
        var victim = await ConfigurationApi.TenantAsync(app);
        var victimMachine = (await victim.MachinesAsync()).Machines.Single();
        var victimNetwork = await victim.Client.CreateNetworkAsync("private");
        var tenant = await ConfigurationApi.TenantAsync(app);
        var machine = (await tenant.MachinesAsync()).Machines.Single();
        var network = await tenant.Client.CreateNetworkAsync("mine");

        // The attacker's machine onto the victim's network, and the victim's machine onto the attacker's network.
        await (await tenant.Client.PostAsync($"/api/v1/networks/{victimNetwork.Id}/connect", new ConnectNetworkRequest(machine.Id)))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await tenant.Client.PostAsync($"/api/v1/networks/{network.Id}/connect", new ConnectNetworkRequest(victimMachine.Id)))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
        var missing = Ids.New(Ids.Network, TimeProvider.System);
        foreach (var id in new[] { victimNetwork.Id, missing })
        {
            await (await tenant.Client.GetAsync($"/api/v1/networks/{id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
            await (await tenant.Client.DeleteAsync($"/api/v1/networks/{id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
            await (await tenant.Client.PostAsync($"/api/v1/networks/{id}/disconnect", new DisconnectNetworkRequest(victimMachine.Id)))
                .ProblemAsync(HttpStatusCode.NotFound, "not-found");
        }
        (await (await tenant.Client.GetAsync("/api/v1/networks", Ct)).ReadAsync<Page<NetworkView>>()).Items.Select(n => n.Id).ShouldBe([network.Id]);
        (await victim.Client.GetNetworkAsync(victimNetwork.Id)).Attachments.ShouldBeEmpty();
        app.Driver.Describe(victimMachine.Id)!.Networks.ShouldBeEmpty();
    }

    [Fact]
    public async Task List_FilteredByAnotherAccount_AnswersAsTheOtherListsDo_LikeAnAccountThatDoesNotExist()
    {
        var (victim, victimClient) = await app.SignUpAsync("victim");
        var network = await victimClient.CreateNetworkAsync("private");
        var (_, other) = await app.SignUpAsync("other");
        var missing = Ids.New(Ids.Account, TimeProvider.System);

        var foreign = await other.AnswersAsTheOtherListsAsync("/api/v1/networks", victim.Account.Id);
        var absent = await other.AnswersAsTheOtherListsAsync("/api/v1/networks", missing);

        foreign.Status.ShouldBe(HttpStatusCode.NotFound);
        foreign.Problem.Replace(victim.Account.Id, "<id>", StringComparison.Ordinal).ShouldBe(absent.Problem.Replace(missing, "<id>", StringComparison.Ordinal));
        (await other.AnswersAsTheOtherListsAsync("/api/v1/networks", "nope")).Status.ShouldBe(HttpStatusCode.BadRequest);
        (await (await victimClient.GetAsync($"/api/v1/networks?accountId={victim.Account.Id}", Ct)).ReadAsync<Page<NetworkView>>()).Items.Select(n => n.Id)
            .ShouldBe([network.Id]);
        (await (await app.Admin().GetAsync($"/api/v1/networks?accountId={victim.Account.Id}", Ct)).ReadAsync<Page<NetworkView>>()).Items.Select(n => n.Id)
            .ShouldBe([network.Id]);
        (await (await app.Admin().GetAsync($"/api/v1/networks?accountId={missing}", Ct)).ReadAsync<Page<NetworkView>>()).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task Delete_WithoutAttachments_FreesTheNameAndTheRange()
    {
        var (_, client) = await app.SignUpAsync("net");
        var network = await client.CreateNetworkAsync("temp", "10.9.0.0/24");

        var deleted = await (await client.DeleteAsync($"/api/v1/networks/{network.Id}", Ct)).ReadAsync<NetworkView>();

        deleted.State.ShouldBe(NetworkState.Deleted);
        (await client.CreateNetworkAsync("temp", "10.9.0.0/24")).Id.ShouldNotBe(network.Id);
        await (await client.PostAsync($"/api/v1/networks/{network.Id}/connect", new ConnectNetworkRequest(Ids.New(Ids.Machine, TimeProvider.System))))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }
}
