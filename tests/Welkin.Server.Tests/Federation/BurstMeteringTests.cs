using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Federation;
using Welkin.Core.Metering;
using Welkin.Core.Security;
using Welkin.Server.Federation;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>
/// <see cref="BurstApp"/> on a fake clock (2 November 2026), the meter run by the tests, and the
/// peer's side of an agreement faked: what cloud-d charges is what <see cref="Charges"/> says (a real
/// peer's invoice is read through the agreement's credential, which needs a second cloud).
/// </summary>
public sealed class BurstMeteringApp : BurstApp
{
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero));

    public FakePeerCharges Charges { get; } = new();

    protected override TimeProvider ServerClock => Clock;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Metering:Interval"] = "7.00:00:00",
        ["Contracts:SweepInterval"] = "01:00:00",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<IPeerCharges>();
            services.AddSingleton<IPeerCharges>(Charges);
        });
    }

    public sealed class FakePeerCharges : IPeerCharges
    {
        public PeerCharges Answer { get; set; } = new(null, false, []);

        public List<(string Agreement, string Period)> Asked { get; } = [];

        public Task<Result<PeerCharges>> ChargesAsync(AgreementRow row, BillingPeriod period, CancellationToken ct)
        {
            Asked.Add((row.Id, period.ToString()));
            return Task.FromResult<Result<PeerCharges>>(Answer);
        }
    }
}

public sealed class BurstMeteringTests(BurstMeteringApp app) : IClassFixture<BurstMeteringApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MachineInAPeerPool_IsMeteredAndBilledAtThisCloudsPlan_LikeALocalOne_AndReconciledAgainstThePeersCharges()
    {
        var admin = app.Admin();
        var current = await admin.GetFromJsonAsync<CloudBurstPolicy>("/api/v1/federation/burst", WelkinJson.Client, Ct);
        await (await admin.PutAsJsonAsync("/api/v1/federation/burst", new CloudBurstPolicy(true, Version: current!.Version), WelkinJson.Client, Ct)).ReadAsync<CloudBurstPolicy>();
        var tenant = await InstancesApi.TenantAsync(app, quantity: 2, burst: new BurstPolicy(true));
        var start = app.Clock.GetUtcNow();
        var (_, first) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        var (_, second) = await tenant.Client.ProvisionedAsync(InstancesApi.Request(tenant));
        var local = await tenant.Client.GetMachineAsync(first.Machines.Single());
        var remote = await tenant.Client.GetMachineAsync(second.Machines.Single());
        (local.Pool, local.Peer, remote.Pool, remote.Peer).ShouldBe(("home", null, "peer-d", "cloud-d"));

        app.Clock.Advance(TimeSpan.FromHours(3));
        foreach (var id in new[] { local.Id, remote.Id })
        {
            (await tenant.Client.ActAsync(id, "stop")).State.ShouldBe(JobState.Succeeded);
        }
        app.Clock.Advance(TimeSpan.FromHours(1));
        await app.Services.GetRequiredService<Meter>().CatchUpAsync(app.Clock.GetUtcNow(), Ct);

        // The same recorded states give the same usage, whichever pool the machine runs in.
        var usage = await (await tenant.Client.GetAsync(
            $"/api/v1/accounts/{tenant.AccountId}/usage?groupBy=resource&from={Iso(start)}&to={Iso(app.Clock.GetUtcNow())}", Ct)).ReadAsync<UsageReport>();
        var byMachine = usage.Groups.ToDictionary(g => g.Key, g => g.Totals.ToDictionary(t => t.Metric, t => t.Quantity));
        byMachine[remote.Id][UsageMetrics.VcpuMs].ShouldBe(2 * 3 * 3_600_000L);
        byMachine[remote.Id].ShouldBe(byMachine[local.Id]);

        // Billed at this cloud's plan (0.13 USD per CPU hour): 12 CPU hours, six of them the peer's machine's.
        var preview = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();
        var cpu = preview.Lines.Single(l => l.Metric == "cpu-hour");
        (cpu.Quantity, cpu.UnitPrice, cpu.Amount).ShouldBe((12m, 0.13m, 1.56m));

        // Reconciled against what cloud-d charges under the agreement (faked: 0.60 USD).
        var agreement = await AgreementWithAsync("cloud-d");
        app.Charges.Answer = new PeerCharges(null, false, [new InvoiceTotalView("USD", 0.60m, 0m, 0.60m)]);
        var report = await (await admin.GetAsync($"/api/v1/federation/agreements/{agreement}/reconciliation?period=2026-11", Ct)).ReadAsync<AgreementReconciliation>();
        app.Charges.Asked.ShouldContain((agreement, "2026-11"));
        var machine = report.Machines.ShouldHaveSingleItem();
        (machine.MachineId, machine.Pool, machine.AccountId).ShouldBe((remote.Id, "peer-d", tenant.AccountId));
        // 6 CPU hours at 0.13, and 4 hours of a 40 USD server-month (720 hours) = 0.78 + 0.22.
        machine.Revenue.ShouldHaveSingleItem().Total.ShouldBe(1.00m);
        report.Amounts.ShouldHaveSingleItem().ShouldBe(new ReconciledAmount("USD", 0.60m, 1.00m, 0.40m, PeerCharges: 0.60m, NetMargin: 0.40m));
        (report.Period, report.PeerInvoiceIssued, report.Peer.Name).ShouldBe(("2026-11", false, "cloud-d"));
    }

    [Fact]
    public async Task Reconciliation_RefusesBadInput_AndAccountPrincipals()
    {
        var admin = app.Admin();
        var agreement = await AgreementWithAsync("cloud-b");
        await (await admin.GetAsync($"/api/v1/federation/agreements/{agreement}/reconciliation?period=2026-13", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await admin.GetAsync($"/api/v1/federation/agreements/{agreement}/reconciliation?period=2027-01", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await admin.GetAsync("/api/v1/federation/agreements/nope/reconciliation", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
        await (await admin.GetAsync("/api/v1/federation/agreements/agr_01h00000000000000000000000/reconciliation", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        var (_, tenant) = await app.SignUpAsync("recon");
        (await tenant.GetAsync($"/api/v1/federation/agreements/{agreement}/reconciliation", Ct)).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var empty = await (await admin.GetAsync($"/api/v1/federation/agreements/{agreement}/reconciliation", Ct)).ReadAsync<AgreementReconciliation>();
        (empty.Period, empty.Machines.Count).ShouldBe(("2026-11", 0));
    }

    /// <summary>An agreement in force this cloud consumes from <paramref name="peer"/>, recorded as the exchange with the peer leaves it.</summary>
    private async Task<string> AgreementWithAsync(string peer)
    {
        var clock = app.Services.GetRequiredService<TimeProvider>();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var id = Ids.New(Ids.Agreement, clock);
        var terms = new AgreementTerms(new AgreementPolicy(["US"]), new AgreementEntitlement(new Dictionary<string, long> { ["compute-unit"] = 4 }, []), new AgreementMetering("USD"));
        var row = new AgreementRow(id, WireNames.Of(AgreementSide.Consumer), peer, null, "https://" + peer + ".example/", "fp-" + peer, null, "prop-" + id, "agr_remote", 1,
            AgreementStore.Active, AgreementStore.Serialize(terms), null, "acc_at_peer", "[]", null, "credential", "https://" + peer + ".example/", null, 1, now, now);
        var store = app.Services.GetRequiredService<AgreementStore>();
        (await app.Services.GetRequiredService<IDatabase>().WriteAsync<bool>(async tx => await store.InsertAsync(tx, Caller.System("test"), row, "test", null), Ct))
            .Value.ShouldBeTrue();
        return id;
    }

    private static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O"));
}
