using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Compute;
using Welkin.Core.Contracts;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;

namespace Welkin.Core.Instances;

public static class InstancesServiceCollectionExtensions
{
    /// <summary>
    /// The Service Manager and Change Manager: one <see cref="Placer"/> over the driver's hosts, the
    /// job handlers of every instance and machine action, contract release of machines, and the
    /// fabric monitor (recovery at start, host failures). Needs an <see cref="IComputeDriver"/>, the
    /// job queue (AddJobs) and the Security Manager.
    /// </summary>
    public static IServiceCollection AddServiceManager(this IServiceCollection services, PlacementOptions? placement = null)
    {
        services.AddSingleton(placement ?? new PlacementOptions());
        services.AddSingleton(sp => new Placer(sp.GetRequiredService<IComputeDriver>().Hosts, sp.GetRequiredService<PlacementOptions>()));
        services.AddSingleton<MachineLifecycle>();
        services.AddSingleton<ServiceManager>();
        services.AddSingleton<FabricMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<FabricMonitor>());
        services.AddSingleton<IContractResources, MachineContractResources>();
        foreach (var action in new[] { ServiceManager.Actions.Provision, ServiceManager.Actions.Scale, ServiceManager.Actions.Terminate })
        {
            services.AddSingleton<IJobHandler>(sp => new InstanceJobHandler(action, sp.GetRequiredService<MachineLifecycle>()));
        }
        foreach (var action in new[]
        {
            ServiceManager.Actions.Start, ServiceManager.Actions.Stop, ServiceManager.Actions.Pause, ServiceManager.Actions.Resume,
            ServiceManager.Actions.Reboot, ServiceManager.Actions.Destroy,
        })
        {
            services.AddSingleton<IJobHandler>(sp => new MachineActionJobHandler(action, sp.GetRequiredService<MachineLifecycle>()));
        }
        services.AddJobHandler<ResizeJobHandler>();
        services.AddJobHandler<MigrateJobHandler>();
        return services;
    }
}
