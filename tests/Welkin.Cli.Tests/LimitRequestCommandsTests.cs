using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary><c>welkin limit-request</c> and the provider's account decisions (<c>account approve|refuse</c>, <c>account list --state</c>).</summary>
[Collection(CloudsCollection.Name)]
public sealed class LimitRequestCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task LimitRequest_AboveTheCeiling_IsFiledByTheTenant_ApprovedOrRefusedByTheProvider()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("grow"), "--display-name", "Grow", "--save", "--output", "json"))
            .Json<SignUpResponse>();

        var above = await _cli.RunAsync("account", "set-limits", account.Account.Id, "--limit", "compute-unit=100");
        above.ExitCode.ShouldBe(1);
        above.Err.ShouldContain("above the ceiling of 30");
        var request = (await _cli.OkAsync("limit-request", "create", "--limit", "compute-unit=100", "--reason", "launch week", "--output", "json"))
            .Json<LimitRequestView>();
        var refusedOne = (await _cli.OkAsync("limit-request", "create", "--limit", "storage-unit=900", "--reason", "just in case", "--output", "json"))
            .Json<LimitRequestView>();

        var pending = await _cli.OkAsync("--profile", "admin", "limit-request", "list", "--state", "pending", "--account", account.Account.Id);
        pending.Out.ShouldContain(request.Id);
        pending.Out.ShouldContain(refusedOne.Id);
        var approved = await _cli.OkAsync("--profile", "admin", "limit-request", "approve", request.Id);
        approved.Out.ShouldMatch(@"State:\s+approved");
        await _cli.OkAsync("--profile", "admin", "limit-request", "refuse", refusedOne.Id, "--reason", "not without a contract");

        var shown = (await _cli.OkAsync("account", "show", account.Account.Id, "--output", "json")).Json<AccountView>();
        shown.Limits["compute-unit"].ShouldBe(100);
        shown.Limits["storage-unit"].ShouldBe(0);
        var refused = await _cli.OkAsync("limit-request", "show", refusedOne.Id);
        refused.Out.ShouldMatch(@"State:\s+refused");
        refused.Out.ShouldContain("not without a contract");
        var own = (await _cli.OkAsync("limit-request", "list", "--output", "json")).Json<Page<LimitRequestView>>();
        own.Items.Select(r => r.Id).ShouldBe([request.Id, refusedOne.Id], ignoreOrder: true);
    }

    [Fact]
    public async Task AccountApproveAndRefuse_OnAnActiveAccount_FailWithTheReason_AndListFiltersByState()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("open"), "--display-name", "Open", "--output", "json"))
            .Json<SignUpResponse>();

        var approve = await _cli.RunAsync("account", "approve", account.Account.Id);
        var refuse = await _cli.RunAsync("account", "refuse", account.Account.Id, "--reason", "changed our mind");
        var missingReason = await _cli.RunAsync("account", "refuse", account.Account.Id);
        var pending = (await _cli.OkAsync("account", "list", "--state", "pending", "--limit", "500", "--output", "json")).Json<Page<AccountView>>();
        var active = (await _cli.OkAsync("account", "list", "--state", "active", "--limit", "500", "--output", "json")).Json<Page<AccountView>>();

        approve.ExitCode.ShouldBe(1);
        approve.Err.ShouldContain("only a pending account");
        refuse.ExitCode.ShouldBe(1);
        refuse.Err.ShouldContain("only a pending account");
        missingReason.ExitCode.ShouldBe(2);
        pending.Items.ShouldNotContain(a => a.Id == account.Account.Id);
        active.Items.ShouldContain(a => a.Id == account.Account.Id);
    }
}
