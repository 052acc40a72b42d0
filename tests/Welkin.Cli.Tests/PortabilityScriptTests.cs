using System.Diagnostics;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Cli.Tests;

/// <summary>
/// The portability scenario: one consumer with a profile for each of two clouds runs the same script,
/// docs/examples/portability.sh, against both, with the built <c>welkin</c> command on the PATH.
/// </summary>
public sealed class PortabilityScriptTests : IAsyncLifetime, IDisposable
{
    private sealed record Cloud(string Profile, ServerProcess Server, string Matching, string Decoy);

    private sealed record Run(int ExitCode, string Out, string Err, IReadOnlyDictionary<string, string> Ids)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    private readonly CliRunner _cli = new();
    private readonly List<ServerProcess> _servers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // Clouds of their own, so that each catalog holds only what its provider published here.
        _servers.Add(await ServerProcess.StartAsync(Ct));
        _servers.Add(await ServerProcess.StartAsync(Ct));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task PortabilityScript_AgainstTwoClouds_RunsUnchanged_AndEachCloudSeesOnlyItsOwnContractAndMachine()
    {
        var clouds = new[] { await PublishAsync("east", _servers[0]), await PublishAsync("west", _servers[1]) };
        var account = Names.Unique("shop");
        var accounts = new Dictionary<string, string>();
        foreach (var cloud in clouds)
        {
            await _cli.OkAsync("profile", "add", cloud.Profile, "--endpoint", cloud.Server.Endpoint.AbsoluteUri);
            await _cli.OkAsync("profile", "add", cloud.Profile + "-provider", "--endpoint", cloud.Server.Endpoint.AbsoluteUri, "--token-file", cloud.Server.AdminTokenFile);
            var signUp = (await _cli.OkAsync("--profile", cloud.Profile, "account", "sign-up", "--name", account, "--display-name", "Shop", "--save", "--output", "json"))
                .Json<SignUpResponse>();
            await _cli.OkAsync("--profile", cloud.Profile + "-provider", "account", "set-limits", signUp.Account.Id, "--limit", "compute-unit=2");
            accounts[cloud.Profile] = signUp.Account.Id;
        }

        var runs = new Dictionary<string, Run>();
        foreach (var cloud in clouds)
        {
            runs[cloud.Profile] = await RunScriptAsync(cloud.Profile);
        }

        foreach (var cloud in clouds)
        {
            var run = runs[cloud.Profile];
            run.ExitCode.ShouldBe(0, run.ToString());
            run.Err.ShouldContain($"cloud: {cloud.Profile} at {cloud.Server.Endpoint.AbsoluteUri}");
            run.Ids["offering"].ShouldBe(cloud.Matching, run.ToString());
            run.Err.ShouldContain($"machine {run.Ids["machine"]} is running");

            using var provider = new WelkinClient(cloud.Server.Endpoint, cloud.Server.AdminToken);
            var contracts = (await provider.Contracts.ListAsync(accountId: accounts[cloud.Profile], ct: Ct)).Items;
            var contract = contracts.ShouldHaveSingleItem();
            contract.Id.ShouldBe(run.Ids["contract"]);
            contract.State.ShouldBe(ContractState.Terminated);
            var machine = (await provider.Machines.ListAsync(accountId: accounts[cloud.Profile], ct: Ct)).Items.ShouldHaveSingleItem();
            machine.Id.ShouldBe(run.Ids["machine"]);
            machine.ContractId.ShouldBe(contract.Id);
            machine.Vcpus.ShouldBe(2);
            machine.State.ShouldBe(MachineState.Terminated);

            var other = clouds.Single(c => c != cloud);
            var otherRun = runs[other.Profile];
            (await provider.Contracts.ListAsync(ct: Ct)).Items.ShouldNotContain(c => c.Id == otherRun.Ids["contract"]);
            (await provider.Machines.ListAsync(ct: Ct)).Items.ShouldNotContain(m => m.Id == otherRun.Ids["machine"]);
            var missing = await _cli.RunAsync("--profile", cloud.Profile, "contract", "show", otherRun.Ids["contract"]);
            missing.ExitCode.ShouldBe(1, missing.ToString());
        }
    }

    /// <summary>A provider's catalog: first an offering in the wrong jurisdiction, then the one the script should find.</summary>
    private static async Task<Cloud> PublishAsync(string profile, ServerProcess server)
    {
        using var admin = new WelkinClient(server.Endpoint, server.AdminToken);
        var template = await admin.Templates.CreateAsync(new TemplateSpec(profile + "-server",
        [
            new VirtualSystemSpec("app", new HardwareChoices(new Choice<int>([1, 2], 1), new Choice<long>([512, 1024], 512), new Choice<long>([10], 10)),
                new SoftwareChoices(new Choice<string>(["debian"], "debian"))),
        ]), Ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
        var decoy = await PublishOfferingAsync(admin, template.Id, profile + "-us", "US");
        var matching = await PublishOfferingAsync(admin, template.Id, profile + "-de", "DE");
        return new Cloud(profile, server, matching, decoy);
    }

    private static async Task<string> PublishOfferingAsync(WelkinClient admin, string templateId, string name, string jurisdiction)
    {
        var offering = await admin.Offerings.CreateAsync(new OfferingSpec(name, OfferingKind.Compute,
            new PricePlan("EUR", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
            "compute-unit", TemplateId: templateId, TemplateVersion: 1, Constraints: new PlacementConstraints([jurisdiction])), Ct);
        await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
        return offering.Id;
    }

    /// <summary>Runs the script with bash as a user would, the cloud chosen by WELKIN_PROFILE alone.</summary>
    private async Task<Run> RunScriptAsync(string profile)
    {
        var bin = Path.Combine(_cli.WorkDir, "bin");
        var welkin = Path.Combine(bin, "welkin");
        if (!File.Exists(welkin))
        {
            Directory.CreateDirectory(bin);
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
            await File.WriteAllTextAsync(welkin, $"#!/bin/sh\nexec '{dotnet}' '{Path.Combine(AppContext.BaseDirectory, "welkin.dll")}' \"$@\"\n", Ct);
            File.SetUnixFileMode(welkin, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _cli.WorkDir,
        };
        start.ArgumentList.Add(Repository.Path("docs", "examples", "portability.sh"));
        start.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        start.Environment["HOME"] = _cli.WorkDir;
        start.Environment["WELKIN_CONFIG_DIR"] = _cli.ConfigDir;
        start.Environment["WELKIN_PROFILE"] = profile;
        start.Environment.Remove("WELKIN_ENDPOINT");
        start.Environment.Remove("WELKIN_TOKEN");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        try
        {
            // A guard against a hung script, not a performance assertion.
            await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromMinutes(5), Ct);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        var output = await stdout;
        var ids = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith("offering=", StringComparison.Ordinal)) is { } last
            ? last.Split(' ').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);
        return new Run(process.ExitCode, output, await stderr, ids);
    }
}
