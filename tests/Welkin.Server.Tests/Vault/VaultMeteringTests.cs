using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Core.Metering;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Instances;
using Welkin.Server.Tests.Metering;
using Welkin.Testing;

namespace Welkin.Server.Tests.Vault;

/// <summary>A vault is metered as volumes are: the units it holds, and its stored size in whole GiB, rated by the storage line's plan.</summary>
public sealed class VaultMeteringTests(MeteringApp app) : IClassFixture<MeteringApp>
{
    private const long H = 3_600_000;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Vault_IsMeteredByUnitsHeldAndStoredGiB_Reconciles_AndIsRated()
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1, increments: 2);
        app.AdvanceToNext(TimeSpan.FromHours(1));
        var created = app.Clock.GetUtcNow();
        var vault = await (await tenant.Client.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(tenant.Contract.Id, 100), WelkinJson.Client, Ct))
            .ReadAsync<VaultView>(HttpStatusCode.Created);
        app.Clock.Advance(TimeSpan.FromHours(1));
        var first = await tenant.Client.RecordAsync(vault.Id, "a", new byte[1000]);
        app.Clock.Advance(TimeSpan.FromHours(1));
        // Still within the first GiB: no new usage event.
        var second = await tenant.Client.RecordAsync(vault.Id, "b", new byte[2000]);
        app.Clock.Advance(TimeSpan.FromHours(2));
        await (await tenant.Client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{first.Id}", Ct)).ReadAsync<DestructionCertificateView>();
        await (await tenant.Client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{second.Id}", Ct)).ReadAsync<DestructionCertificateView>();
        app.Clock.Advance(TimeSpan.FromHours(1));
        var end = app.Clock.GetUtcNow();

        await app.Meter.CatchUpAsync(end, Ct);

        var events = await tenant.Client.EventsAsync(vault.Id);
        events.Select(e => (e.Type, e.Data["sizeGiB"])).ShouldBe([("vault.provisioned", "0"), ("vault.stored", "1"), ("vault.stored", "0")]);
        var from = Uri.EscapeDataString(created.ToString("O"));
        var to = Uri.EscapeDataString(end.ToString("O"));
        var usage = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/usage?from={from}&to={to}&groupBy=resource", Ct)).ReadAsync<UsageReport>();
        var mine = usage.Groups.Single(g => g.Key == vault.Id).Totals;
        mine.Single(t => t.Metric == UsageMetrics.UnitProvisionedMs).Quantity.ShouldBe(5 * H);
        mine.Single(t => t.Metric == UsageMetrics.StorageGibMs).Quantity.ShouldBe(3 * H);
        var reconciliation = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/usage/reconciliation?from={from}&to={to}", Ct))
            .ReadAsync<ReconciliationReport>();
        reconciliation.Ok.ShouldBeTrue();
        var preview = await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/invoices/preview", Ct)).ReadAsync<InvoiceView>();
        preview.Lines.ShouldContain(l => l.Item == 1 && l.UsageMetric == UsageMetrics.StorageGibMs && l.UsageQuantity >= 3 * H);
    }
}
