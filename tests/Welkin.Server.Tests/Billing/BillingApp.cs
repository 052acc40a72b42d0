using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Welkin.Contracts;
using Welkin.Core.Billing;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Billing;

/// <summary>
/// A <see cref="WelkinApp"/> on a fake clock that tests move from month to month. Rating is tested
/// on usage the tests write themselves (the rows a meter would write), so the meter is left out:
/// invoicing's catch-up does nothing here. Metered usage into invoices is covered by the Table 1
/// month scenario.
/// </summary>
public sealed class BillingApp : WelkinApp
{
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero));

    public IDatabase Database => Services.GetRequiredService<IDatabase>();

    protected override TimeProvider ServerClock => Clock;

    public const string ProviderName = "Example Cloud Ltd";
    public const string ProviderAddress = "1 Harbour Road\nPort Town PT1 2AB";
    public const int PaymentTermsDays = 14;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Billing:Provider:Name"] = ProviderName,
        ["Billing:Provider:Address"] = ProviderAddress,
        ["Billing:PaymentTermsDays"] = "14",
        ["Billing:InvoicePrefix"] = "EX",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<IUsageMeter>();
            services.AddSingleton<IUsageMeter, NoUsageMeter>();
        });
    }

    /// <summary>Moves the clock forward to <paramref name="day"/> of the next month at 12:00 UTC and returns that month.</summary>
    public BillingPeriod NextMonth(int day = 20)
    {
        var now = Clock.GetUtcNow();
        var target = new DateTimeOffset(now.Year, now.Month, day, 12, 0, 0, TimeSpan.Zero).AddMonths(1);
        Clock.Advance(target - now);
        return BillingPeriod.Of(target);
    }

    public void AdvanceTo(DateTimeOffset t) => Clock.Advance(t - Clock.GetUtcNow());
}

/// <summary>A tenant with an active contract for a compute line (item 0, 3 units) and a storage line (item 1, 5 increments).</summary>
public sealed record BilledTenant(ContractsApi.Tenant Tenant, ContractView Contract, HttpClient Billing)
{
    public string AccountId => Tenant.AccountId;

    public HttpClient Client => Tenant.Client;
}

public static class BillingApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Rates of <see cref="CatalogApi.Compute"/> and <see cref="CatalogApi.Storage"/>: compute-unit 40.00 per unit-month,
    /// cpu-hour 0.13, storage-tb-day 5.00; 50 % off units ordered but not provisioned.
    /// </summary>
    public static async Task<BilledTenant> TenantAsync(BillingApp app, string? offeringName = null)
    {
        var (signUp, client) = await app.SignUpAsync("bill");
        await ContractsApi.SetLimitsAsync(app, signUp.Account.Id, 10, 100);
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("bill");
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        var compute = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(offeringName ?? prefix + "small", template.Id))).Id);
        var storage = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Storage(prefix + "disk"))).Id);
        var contract = await client.AcceptAsync((await client.ProposeAsync((compute.Id, 3), (storage.Id, 5))).Id);
        var billing = await app.ProviderPrincipalAsync(Role.BillingAdmin);
        return new BilledTenant(new ContractsApi.Tenant(signUp, client, compute, storage), contract, billing);
    }

    /// <summary>Writes usage rows as the meter would: one row per metric and hour slice, spread over the period's first hours.</summary>
    public static async Task UsageAsync(this BillingApp app, BilledTenant tenant, BillingPeriod period, int item, string metric, long total, int slices = 4, long offsetMs = 0)
    {
        var per = total / slices;
        var result = await app.Database.WriteAsync<bool>(async tx =>
        {
            for (var i = 0; i < slices; i++)
            {
                var start = period.StartMs + offsetMs + i * RatingRules.HourMs;
                await tx.ExecuteAsync(
                    """
                    INSERT INTO usage_records (id, account_id, contract_id, item, resource_id, metric, quantity, start_at, end_at, source_seq, created_at)
                    VALUES (@Id, @AccountId, @ContractId, @Item, @ResourceId, @Metric, @Quantity, @Start, @End, 0, @Start)
                    """,
                    new
                    {
                        Id = Guid.NewGuid().ToString("n"), tenant.AccountId, ContractId = tenant.Contract.Id, Item = (long)item, ResourceId = "res-" + item, Metric = metric,
                        Quantity = i == slices - 1 ? total - per * (slices - 1) : per, Start = start, End = start + RatingRules.HourMs,
                    });
            }
            return true;
        }, Ct);
        result.IsSuccess.ShouldBeTrue();
    }

    public static async Task SlaCreditAsync(this BillingApp app, BilledTenant tenant, BillingPeriod period, string term, decimal percent)
    {
        var result = await app.Database.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(
                """
                INSERT INTO sla_credits (id, account_id, contract_id, period_start, period_end, term, target, measured, credit_percent, detail, created_at, updated_at)
                VALUES (@Id, @AccountId, @ContractId, @Start, @End, @Term, @Target, @Measured, @Percent, 'test', @Start, @Start)
                """,
                new { Id = Guid.NewGuid().ToString("n"), tenant.AccountId, ContractId = tenant.Contract.Id, Start = period.StartMs, End = period.EndMs, Term = term, Target = 99.9m, Measured = 99.5m, Percent = percent });
            return true;
        }, Ct);
        result.IsSuccess.ShouldBeTrue();
    }

    public static Task<HttpResponseMessage> IssueAsync(this HttpClient client, string accountId, string period) =>
        client.PostAsJsonAsync($"/api/v1/accounts/{accountId}/invoices", new IssueInvoiceRequest(period), WelkinJson.Client, Ct);

    public static async Task<InvoiceView> IssuedAsync(this HttpClient client, string accountId, BillingPeriod period) =>
        await (await client.IssueAsync(accountId, period.ToString())).ReadAsync<InvoiceView>(HttpStatusCode.Created);

    public static Task<HttpResponseMessage> AddVersionAsync(this HttpClient client, string contractId, AddPricePlanVersionRequest request) =>
        client.PostAsJsonAsync($"/api/v1/contracts/{contractId}/price-plans", request, WelkinJson.Client, Ct);
}
