using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Common;

namespace Welkin.Core.Metering;

public static class MeteringServiceCollectionExtensions
{
    /// <summary>The meter (also as periodic work, <c>Metering:Interval</c>) and the usage, reconciliation and contract report reads.</summary>
    public static IServiceCollection AddMetering(this IServiceCollection services, MeterOptions? options = null)
    {
        services.AddSingleton(options ?? new MeterOptions());
        services.AddSingleton<Meter>();
        // Invoicing catches the meter up to a period's end before it rates the period.
        services.AddSingleton<Billing.IUsageMeter>(sp => new MeterForBilling(sp.GetRequiredService<Meter>()));
        services.AddSingleton<UsageService>();
        services.AddPeriodicWork<MeteringWork>();
        return services;
    }
}

/// <summary>The meter as invoicing sees it.</summary>
internal sealed class MeterForBilling(Meter meter) : Billing.IUsageMeter
{
    public Task CatchUpAsync(DateTimeOffset upTo, CancellationToken ct) => meter.CatchUpAsync(upTo, ct);
}
