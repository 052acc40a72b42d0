using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary><c>machine repatriate</c> against a real server: it names this cloud's pool to the move, and says why a move is refused.</summary>
[Collection(CloudsCollection.Name)]
public sealed class RepatriateCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Repatriate_OfAMachineRunningHere_IsRefused_LiveOrCold()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("home"), "--display-name", "Home", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "compute-unit=5");
        using var admin = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);
        var name = Names.Unique("home");
        var template = await admin.Templates.CreateAsync(new TemplateSpec(name,
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10))),
        ]), Ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
        var offering = await admin.Offerings.CreateAsync(new OfferingSpec(name, OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
            "compute-unit", TemplateId: template.Id, TemplateVersion: 1), Ct);
        await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
        var contract = (await _cli.OkAsync("contract", "request", "--offering", offering.Id, "--quantity", "1", "--output", "json")).Json<ContractView>();
        await _cli.OkAsync("contract", "accept", contract.Id);
        var accepted = (await _cli.OkAsync("instance", "provision", "--contract", contract.Id, "--output", "json")).Json<AcceptedView<InstanceView>>();
        await _cli.OkAsync("job", "wait", accepted.Job.Id);
        var machine = accepted.Resource.Machines[0];

        var here = await _cli.RunAsync("--profile", "admin", "machine", "repatriate", machine);
        var live = await _cli.RunAsync("--profile", "admin", "machine", "repatriate", machine, "--live");
        var tenant = await _cli.RunAsync("machine", "repatriate", machine, "--pool", "default");

        here.ExitCode.ShouldBe(1, here.ToString());
        here.Err.ShouldContain("already in pool");
        live.ExitCode.ShouldBe(1, live.ToString());
        live.Err.ShouldContain("already in pool");
        tenant.ExitCode.ShouldBe(1, tenant.ToString());
        tenant.Err.ShouldContain("provider role with the fabric-write permission");
    }
}
