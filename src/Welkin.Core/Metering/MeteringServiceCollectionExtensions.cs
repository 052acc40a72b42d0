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
        services.AddSingleton<UsageService>();
        services.AddPeriodicWork<MeteringWork>();
        return services;
    }
}
