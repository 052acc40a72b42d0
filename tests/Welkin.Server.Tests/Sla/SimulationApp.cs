using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Monitoring;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;

namespace Welkin.Server.Tests.Sla;

/// <summary>
/// A Welkin cloud in simulation mode: the virtual clock starts at <see cref="Start"/> and moves
/// only through POST /api/v1/clock/advance; measurements come from <see cref="Measurements"/>,
/// which a test sets per machine.
/// </summary>
public class SimulationApp : InstancesApp
{
    public static readonly DateTimeOffset Start = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);

    public FakeMeasurements Measurements { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Clock"] = "virtual",
        ["Welkin:ClockStart"] = Start.ToString("o"),
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IMeasurementQuery>(Measurements));
    }
}

/// <summary>A Service Monitor stand-in: the mean of the values a test set for the machines asked about.</summary>
public sealed class FakeMeasurements : IMeasurementQuery
{
    private readonly ConcurrentDictionary<(string Machine, string Metric), double> _values = new();

    public void Set(IEnumerable<string> machines, string metric, double value)
    {
        foreach (var m in machines)
        {
            _values[(m, metric)] = value;
        }
    }

    public Task<double?> AggregateAsync(
        IReadOnlyList<string> machineIds, string metric, DateTimeOffset from, DateTimeOffset to, Aggregation aggregation, double? percentile, CancellationToken ct)
    {
        var values = machineIds.Select(m => _values.TryGetValue((m, metric), out var v) ? v : (double?)null).OfType<double>().ToList();
        return Task.FromResult<double?>(values.Count == 0 ? null : values.Average());
    }
}

public static class SimulationApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<ClockView> ClockAsync(this HttpClient client) =>
        await (await client.GetAsync("/api/v1/clock", Ct)).ReadAsync<ClockView>();

    public static Task<HttpResponseMessage> PostAdvanceAsync(this HttpClient client, ClockAdvanceRequest request) =>
        client.PostAsJsonAsync("/api/v1/clock/advance", request, WelkinJson.Client, Ct);

    public static async Task<ClockAdvanceView> AdvanceAsync(this HttpClient admin, string by) =>
        await (await admin.PostAdvanceAsync(new ClockAdvanceRequest(by))).ReadAsync<ClockAdvanceView>();

    /// <summary>A fresh account with an active contract for <paramref name="quantity"/> machines of an offering with the given SLA.</summary>
    public static async Task<InstancesApi.Tenant> TenantAsync(WelkinApp app, SlaTerms sla, int quantity = 3)
    {
        var (signUp, client) = await app.SignUpAsync("sla");
        await ContractsApi.SetLimitsAsync(app, signUp.Account.Id, 10, 100);
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("sla");
        var published = await admin.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        var spec = CatalogApi.Compute(prefix + "compute", published.Id) with { Sla = sla };
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(spec)).Id);
        var proposed = await (await client.RequestAsync(new ContractRequest([new ContractItemRequest(offering.Id, quantity)])))
            .ReadAsync<ContractView>(HttpStatusCode.Created);
        return new InstancesApi.Tenant(signUp, client, await client.AcceptAsync(proposed.Id));
    }
}
