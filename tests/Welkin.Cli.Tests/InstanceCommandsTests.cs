using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>Service Manager commands against a real server: provision with --wait, machine actions, jobs and events.</summary>
[Collection(CloudsCollection.Name)]
public sealed class InstanceCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    /// <summary>A published one-tier compute offering, made through the client library.</summary>
    private async Task<string> ComputeOfferingAsync()
    {
        using var admin = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);
        var name = Names.Unique("cli");
        var template = await admin.Templates.CreateAsync(new TemplateSpec(name,
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1, 2], 1), new Choice<long>([512, 1024], 512), new Choice<long>([10], 10)),
                new SoftwareChoices(new Choice<string>(["debian", "alpine"], "debian"))),
        ]), Ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
        var offering = await admin.Offerings.CreateAsync(new OfferingSpec(name, OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
            "compute-unit", TemplateId: template.Id, TemplateVersion: 1), Ct);
        await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
        return offering.Id;
    }

    [Fact]
    public async Task ProvisionWait_ShowsProgressAndThePasswordOnce_ThenMachinesJobsAndEvents()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("ops"), "--display-name", "Ops", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "compute-unit=5");
        var offering = await ComputeOfferingAsync();
        var proposed = (await _cli.OkAsync("contract", "request", "--offering", offering, "--quantity", "3", "--output", "json")).Json<ContractView>();

        var early = await _cli.RunAsync("instance", "provision", "--contract", proposed.Id);
        await _cli.OkAsync("contract", "accept", proposed.Id);
        var provisioned = await _cli.OkAsync("instance", "provision", "--contract", proposed.Id, "--vs", "web:2:2:1024", "--os", "alpine", "--name", "shop", "--wait");
        var instances = (await _cli.OkAsync("instance", "list", "--output", "json")).Json<Page<InstanceView>>();
        var instance = instances.Items.Single();
        var machines = await _cli.OkAsync("machine", "list", "--instance", instance.Id);
        var machineId = instance.Machines[0];
        var stopped = await _cli.OkAsync("machine", "stop", machineId, "--wait");
        var jobs = await _cli.OkAsync("job", "list", "--target", machineId);
        var events = await _cli.OkAsync("event", "list", "--target", machineId);
        var provisionJob = (await _cli.OkAsync("job", "list", "--action", "instance.provision", "--output", "json")).Json<Page<JobView>>().Items.Single();
        var shownAgain = await _cli.OkAsync("job", "show", provisionJob.Id);
        var refused = await _cli.RunAsync("machine", "resume", machineId);
        var terminated = await _cli.OkAsync("instance", "terminate", instance.Id, "--wait");

        early.ExitCode.ShouldBe(1, early.ToString());
        early.Err.ShouldContain("only an active contract");
        provisioned.Err.ShouldContain($"job {provisionJob.Id} running");
        provisioned.Err.ShouldContain($"job {provisionJob.Id} succeeded 100%");
        provisioned.Err.ShouldContain("Passwords are shown once");
        provisioned.Out.ShouldContain("shop-web-1");
        provisioned.Out.ShouldContain("shop-web-2");
        var passwordColumn = provisioned.Out.Split('\n')[0].IndexOf("PASSWORD", StringComparison.Ordinal);
        passwordColumn.ShouldBeGreaterThan(0);
        var password = provisioned.Out.Split('\n')[1][passwordColumn..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        password.Length.ShouldBeGreaterThanOrEqualTo(20);
        shownAgain.Out.ShouldNotContain(password);
        instance.VirtualSystems.Single().ShouldBe(instance.VirtualSystems.Single() with { Count = 2, Vcpus = 2, MemoryMiB = 1024, OperatingSystem = "alpine" });
        machines.Out.ShouldContain("running");
        stopped.Out.ShouldMatch(@"State:\s+inactive");
        jobs.Out.ShouldContain("machine.stop");
        events.Out.ShouldContain("machine.deactivated");
        events.Out.ShouldContain("vcpus=2");
        refused.ExitCode.ShouldBe(1, refused.ToString());
        terminated.Out.ShouldMatch(@"State:\s+terminated");
    }

    [Fact]
    public async Task Resize_OutsideTheOffering_ExitsWithOne_AndPauseWaits()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("ops"), "--display-name", "Ops", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "compute-unit=5");
        var offering = await ComputeOfferingAsync();
        var contract = (await _cli.OkAsync("contract", "request", "--offering", offering, "--quantity", "1", "--output", "json")).Json<ContractView>();
        await _cli.OkAsync("contract", "accept", contract.Id);
        var accepted = (await _cli.OkAsync("instance", "provision", "--contract", contract.Id, "--output", "json")).Json<AcceptedView<InstanceView>>();
        await _cli.OkAsync("job", "wait", accepted.Job.Id);
        var machine = accepted.Resource.Machines[0];
        var badResize = await _cli.RunAsync("machine", "resize", machine, "--vcpus", "8");
        var paused = await _cli.OkAsync("machine", "pause", machine, "--wait");

        badResize.ExitCode.ShouldBe(1, badResize.ToString());
        badResize.Err.ShouldContain("vcpus must be one of 1, 2");
        paused.Out.ShouldMatch(@"State:\s+paused");
    }
}
