using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;

namespace Welkin.Core.Changes;

public static class ChangesServiceCollectionExtensions
{
    /// <summary>The Change Manager and the jobs of its machine actions, resizes, migrations and moves between clouds; needs the Service Manager (AddServiceManager) and OVF packages (AddOvfPackages).</summary>
    public static IServiceCollection AddChangeManager(this IServiceCollection services)
    {
        services.AddSingleton<ChangeManager>();
        foreach (var action in ChangeManager.Actions.Machine)
        {
            services.AddSingleton<IJobHandler>(sp => new MachineActionJobHandler(action, sp.GetRequiredService<MachineLifecycle>()));
        }
        services.AddJobHandler<ResizeJobHandler>();
        services.AddJobHandler<MigrateJobHandler>();
        services.AddSingleton<RepatriateMove>();
        services.AddSingleton<LiveRepatriation>();
        services.AddSingleton<LiveMove>();
        services.AddJobHandler<MoveJobHandler>();
        return services;
    }
}
