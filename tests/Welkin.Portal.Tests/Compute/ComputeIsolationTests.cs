using System.Net;
using Welkin.Contracts;

namespace Welkin.Portal.Tests.Compute;

/// <summary>Account B's session opening account A's contract, report, instance or machine gets what a well-formed id naming nothing gets: the 404 page.</summary>
public sealed class ComputeIsolationTests(ComputePortalApp app, Browser browser) : IClassFixture<ComputePortalApp>
{
    [Fact]
    public async Task AnotherAccountsIds_AnswerAsIdsThatNameNothing()
    {
        var victim = await ComputeData.TenantAsync(app, "victim");
        var offering = await ComputeData.OfferingAsync(app);
        var contract = await victim.ActiveAsync(offering, 1, "victim-secret-contract");
        var instance = await victim.ProvisionedAsync(contract, 1, "victim-secret-instance");
        var machine = instance.Machines.Single();
        var attacker = await ComputeData.TenantAsync(app, "attacker");
        var (context, page) = await browser.SignedInAsync(app, attacker);
        await using var _ = context;

        foreach (var path in new[] { $"/contracts/{contract.Id}", $"/contracts/{contract.Id}/report", $"/instances/{instance.Id}", $"/machines/{machine}" })
        {
            var theirs = await page.GotoAsync(path);
            var theirsHtml = await page.ContentAsync();
            var absentPath = path.Replace(path.Split('/')[2], ComputeData.Absent(path.Split('/')[2]), StringComparison.Ordinal);
            var absent = await page.GotoAsync(absentPath);

            theirs!.Status.ShouldBe((int)HttpStatusCode.NotFound, path);
            absent!.Status.ShouldBe((int)HttpStatusCode.NotFound, absentPath);
            theirsHtml.ShouldNotContain("victim-secret");
            (await page.ContentAsync()).Replace(ComputeData.Absent(path.Split('/')[2]), "ID", StringComparison.Ordinal)
                .ShouldBe(theirsHtml.Replace(path.Split('/')[2], "ID", StringComparison.Ordinal), path);
        }
    }
}
