using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>Contract and account-lifecycle commands against a real server.</summary>
[Collection(CloudsCollection.Name)]
public sealed class ContractCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private async Task<string> StorageOfferingAsync()
    {
        var path = Path.Combine(_cli.WorkDir, "storage.json");
        await File.WriteAllTextAsync(path, $$"""
            {
              "name": "{{Names.Unique("disk")}}",
              "kind": "storage",
              "limitUnit": "storage-unit",
              "storage": { "incrementGiB": 100, "maxGiB": 10000 },
              "pricePlan": { "currency": "USD", "billingPeriod": "month", "rates": [ { "metric": "storage-tb-day", "unit": "tb-day", "price": 5.00 } ] },
              "sla": { "availabilityPercent": 99.99 },
              "terms": { "minimumPeriodMonths": 0, "unprovisionedDiscountPercent": 50 }
            }
            """, TestContext.Current.CancellationToken);
        var offering = (await _cli.OkAsync("--profile", "admin", "offering", "create", "--file", path, "--output", "json")).Json<OfferingView>();
        await _cli.OkAsync("--profile", "admin", "offering", "publish", offering.Id);
        return offering.Id;
    }

    private async Task<CliResult> ShowUntilAsync(string id, ContractState state)
    {
        while (true)
        {
            var shown = await _cli.OkAsync("contract", "show", id);
            if (shown.Out.Contains("State:", StringComparison.Ordinal) && System.Text.RegularExpressions.Regex.IsMatch(shown.Out, $@"State:\s+{WireNames.Of(state)}\n"))
            {
                return shown;
            }
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task ContractLifecycle_RequestAcceptAmendTerminateAndClose()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("buyer"), "--display-name", "Buyer", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "storage-unit=10");
        var offering = await StorageOfferingAsync();

        var proposed = (await _cli.OkAsync("contract", "request", "--offering", offering, "--quantity", "4", "--name", "backups", "--output", "json"))
            .Json<ContractView>();
        var refused = await _cli.RunAsync("contract", "request", "--offering", offering, "--quantity", "7");
        var mismatched = await _cli.RunAsync("contract", "request", "--offering", offering);
        var accepted = await _cli.OkAsync("contract", "accept", proposed.Id);
        var amended = (await _cli.OkAsync("contract", "amend", proposed.Id, "--offering", offering, "--quantity", "6", "--reason", "more data", "--output", "json"))
            .Json<ContractView>();
        var revisions = await _cli.OkAsync("contract", "revisions", proposed.Id);
        var quotas = await _cli.OkAsync("account", "quotas", account.Account.Id);
        var listed = await _cli.OkAsync("contract", "list");
        var terminating = (await _cli.OkAsync("contract", "terminate", proposed.Id, "--output", "json")).Json<AcceptedView<ContractView>>();
        var terminated = await ShowUntilAsync(proposed.Id, ContractState.Terminated);

        proposed.State.ShouldBe(ContractState.Proposed);
        proposed.Items.Single().Quantity.ShouldBe(4);
        refused.ExitCode.ShouldBe(1, refused.ToString());
        refused.Err.ShouldContain("Limit of storage-unit exceeded: limit 10, ordered 4, requested 7.");
        mismatched.ExitCode.ShouldBe(2, mismatched.ToString());
        accepted.Out.ShouldMatch(@"State:\s+active");
        amended.Revision.ShouldBe(2);
        revisions.Out.ShouldContain("more data");
        quotas.Out.ShouldMatch(@"storage-unit\s+10\s+6\s+0");
        listed.Out.ShouldContain(proposed.Id);
        terminating.Job.Action.ShouldBe("contract.terminate");
        terminating.Resource.State.ShouldBe(ContractState.Terminating);
        terminated.Out.ShouldMatch(@"State:\s+terminated");

        var closed = await _cli.OkAsync("account", "close", account.Account.Id);
        closed.Out.ShouldMatch(@"State:\s+closed");
        var after = await _cli.RunAsync("contract", "list");
        after.ExitCode.ShouldBe(1, after.ToString());
    }
}
