using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Contracts;
using Welkin.Core.Jobs;
using Welkin.Core.Placement;

namespace Welkin.Core.Instances;

public static class InstancesServiceCollectionExtensions
{
    /// <summary>
    /// The Service Manager: one <see cref="Placer"/> over the hosts of every pool, the machine
    /// planner and lifecycle, the jobs of provisioning and terminating instances, contract release
    /// of machines, one-time machine passwords, the fabric monitor (recovery at start, host
    /// failures) and the watch that tells consumers when a peer's pool their machines run in becomes unavailable; the provider's side of live moves between clouds (<see cref="IncomingMachines"/>, <see cref="OutgoingMachines"/>). Needs a <see cref="ComputeFabric"/>, the job queue (AddJobs) and the Security Manager.
    /// </summary>
    public static IServiceCollection AddServiceManager(this IServiceCollection services, PlacementOptions? placement = null)
    {
        services.AddSingleton(placement ?? new PlacementOptions());
        services.AddSingleton(sp =>
        {
            var fabric = sp.GetRequiredService<ComputeFabric>();
            var peerHosts = fabric.Pools.Where(p => p.Driver is IPeerPool).SelectMany(p => p.Hosts).Select(h => h.Name);
            return new Placer(fabric.Hosts, sp.GetRequiredService<PlacementOptions>(), peerHosts);
        });
        services.AddSingleton<MachinePlanner>();
        services.AddSingleton<MachineLifecycle>();
        services.AddSingleton<ServiceManager>();
        services.TryAddSingleton(new ConsoleOptions());
        services.AddSingleton<MachineDisplays>();
        services.AddSingleton<FabricMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<FabricMonitor>());
        services.AddPeriodicWork<PeerPoolWatch>();
        services.AddSingleton<IContractResources, MachineContractResources>();
        services.AddSingleton<IJobSecrets, MachinePasswords>();
        services.TryAddSingleton<IMigrationCredentials, NoMigrationCredentials>();
        services.TryAddSingleton(new IncomingMachineOptions());
        services.AddSingleton<IncomingMachines>();
        services.AddJobHandler<IncomingJobHandler>();
        services.TryAddSingleton(new OutgoingMachineOptions());
        services.AddSingleton<OutgoingMachines>();
        foreach (var action in new[] { ServiceManager.Actions.Provision, Changes.ChangeManager.Actions.Scale, ServiceManager.Actions.Terminate })
        {
            services.AddSingleton<IJobHandler>(sp => new InstanceJobHandler(action, sp.GetRequiredService<MachineLifecycle>()));
        }
        return services;
    }
}
