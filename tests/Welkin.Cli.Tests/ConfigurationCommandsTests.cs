using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>Configuration Manager commands against a real server: volumes, networks and machine properties, with --wait.</summary>
[Collection(CloudsCollection.Name)]
public sealed class ConfigurationCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    /// <summary>Published compute (with a configurable property) and storage offerings, made through the client library.</summary>
    private async Task<(string Compute, string Storage)> OfferingsAsync()
    {
        using var admin = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);
        var name = Names.Unique("cfg");
        var template = await admin.Templates.CreateAsync(new TemplateSpec(name,
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10)),
                Properties: [new PropertyDefinition("site.title", PropertyType.String, "Welcome")]),
        ]), Ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
        var compute = await admin.Offerings.CreateAsync(new OfferingSpec(name, OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
            "compute-unit", TemplateId: template.Id, TemplateVersion: 1), Ct);
        await admin.Offerings.PublishAsync(compute.Id, new OfferingTransitionRequest(), Ct);
        var storage = await admin.Offerings.CreateAsync(new OfferingSpec(name + "-disk", OfferingKind.Storage,
            new PricePlan("USD", "month", [new PriceRate("storage-tb-day", "tb-day", 5m)]), new SlaTerms(99.99m), new OfferingTerms(0, 0m),
            "storage-unit", Storage: new StorageSpec(100, 1000)), Ct);
        await admin.Offerings.PublishAsync(storage.Id, new OfferingTransitionRequest(), Ct);
        return (compute.Id, storage.Id);
    }

    [Fact]
    public async Task VolumeNetworkAndConfigure_WithWait_ChangeTheMachine()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("fred"), "--display-name", "Fred", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "compute-unit=2", "--limit", "storage-unit=5");
        var (compute, storage) = await OfferingsAsync();
        var contract = (await _cli.OkAsync("contract", "request", "--offering", compute, "--quantity", "1", "--offering", storage, "--quantity", "3", "--output", "json"))
            .Json<ContractView>();
        await _cli.OkAsync("contract", "accept", contract.Id);
        var accepted = (await _cli.OkAsync("instance", "provision", "--contract", contract.Id, "--output", "json")).Json<AcceptedView<InstanceView>>();
        await _cli.OkAsync("job", "wait", accepted.Job.Id);
        var machine = accepted.Resource.Machines[0];

        var badSize = await _cli.RunAsync("volume", "create", "--contract", contract.Id, "--size", "150");
        var volume = (await _cli.OkAsync("volume", "create", "--contract", contract.Id, "--size", "200", "--name", "data", "--output", "json")).Json<VolumeView>();
        var attached = await _cli.OkAsync("volume", "attach", volume.Id, "--machine", machine, "--wait");
        var shown = await _cli.OkAsync("volume", "show", volume.Id);
        var refusedDelete = await _cli.RunAsync("volume", "delete", volume.Id);
        await _cli.OkAsync("volume", "detach", volume.Id, "--wait");
        var deleted = await _cli.OkAsync("volume", "delete", volume.Id);
        var list = await _cli.OkAsync("volume", "list", "--state", "deleted");
        var network = (await _cli.OkAsync("network", "create", "--name", "lan", "--cidr", "192.168.5.0/24", "--output", "json")).Json<NetworkView>();
        var connected = await _cli.OkAsync("network", "connect", network.Id, "--machine", machine, "--wait");
        var networkShown = await _cli.OkAsync("network", "show", network.Id);
        await _cli.OkAsync("network", "disconnect", network.Id, "--machine", machine, "--wait");
        var networkDeleted = await _cli.OkAsync("network", "delete", network.Id);
        var configured = await _cli.OkAsync("machine", "configure", machine, "--property", "site.title=Fred's shop", "--wait");
        var badProperty = await _cli.RunAsync("machine", "configure", machine, "--property", "nope=1");
        var machineShown = await _cli.OkAsync("machine", "show", machine);

        badSize.ExitCode.ShouldBe(1, badSize.ToString());
        badSize.Err.ShouldContain("multiple of 100");
        attached.Err.ShouldContain("succeeded 100%");
        attached.Out.ShouldMatch(@"State:\s+succeeded");
        shown.Out.ShouldMatch(@"Device:\s+vdb");
        shown.Out.ShouldMatch(@"State:\s+attached");
        refusedDelete.ExitCode.ShouldBe(1, refusedDelete.ToString());
        deleted.Out.ShouldMatch(@"State:\s+deleted");
        list.Out.ShouldContain(volume.Id);
        connected.Out.ShouldMatch(@"State:\s+succeeded");
        networkShown.Out.ShouldContain("192.168.5.2");
        networkShown.Out.ShouldContain("52:54:00:");
        networkDeleted.Out.ShouldMatch(@"State:\s+deleted");
        configured.Out.ShouldMatch(@"State:\s+succeeded");
        badProperty.ExitCode.ShouldBe(1, badProperty.ToString());
        machineShown.Out.ShouldContain("site.title=Fred's shop");
    }
}
