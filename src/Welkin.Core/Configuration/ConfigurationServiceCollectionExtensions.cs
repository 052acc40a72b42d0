using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Contracts;
using Welkin.Core.Jobs;

namespace Welkin.Core.Configuration;

public static class ConfigurationServiceCollectionExtensions
{
    /// <summary>Volumes, networks, machine properties and their driver jobs; needs the jobs, the event log and the <see cref="Compute.ComputeFabric"/>.</summary>
    public static IServiceCollection AddConfigurationManager(this IServiceCollection services)
    {
        services.AddSingleton<VolumeService>();
        services.AddSingleton<NetworkService>();
        services.AddSingleton<PropertyService>();
        services.AddSingleton<MachineDevices>();
        services.AddSingleton<IContractResources, VolumeContractResources>();
        services.AddJobHandler<VolumeAttachHandler>();
        services.AddJobHandler<VolumeDetachHandler>();
        services.AddJobHandler<NetworkConnectHandler>();
        services.AddJobHandler<NetworkDisconnectHandler>();
        services.AddJobHandler<MachineConfigureHandler>();
        return services;
    }
}
