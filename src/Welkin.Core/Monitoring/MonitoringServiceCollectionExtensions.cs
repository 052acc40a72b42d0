using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Welkin.Core.Common;

namespace Welkin.Core.Monitoring;

public static class MonitoringServiceCollectionExtensions
{
    /// <summary>
    /// The Service Monitor: the measurement store (also the <see cref="IMeasurementQuery"/> unless
    /// one is registered already), the collector and the pruner as periodic work, and the API
    /// service. Needs the <see cref="Compute.ComputeFabric"/>, the database and the audit log.
    /// </summary>
    public static IServiceCollection AddServiceMonitor(this IServiceCollection services, MonitoringOptions? options = null)
    {
        options ??= new MonitoringOptions();
        options.Validate();
        services.AddSingleton(options);
        services.TryAddSingleton<MeasurementStore>();
        services.TryAddSingleton<IMeasurementQuery>(sp => sp.GetRequiredService<MeasurementStore>());
        services.AddPeriodicWork<MeasurementCollector>();
        services.AddPeriodicWork<MeasurementPruner>();
        services.TryAddSingleton<ServiceMonitor>();
        return services;
    }
}
