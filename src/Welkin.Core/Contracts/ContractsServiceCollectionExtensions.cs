using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Jobs;

namespace Welkin.Core.Contracts;

public static class ContractsServiceCollectionExtensions
{
    /// <summary>Contracts, their expiry sweeper and the termination job; needs <see cref="Jobs.JobServiceCollectionExtensions.AddJobs"/>.</summary>
    public static IServiceCollection AddContracts(this IServiceCollection services, ContractOptions? options = null)
    {
        services.AddSingleton(options ?? new ContractOptions());
        services.AddSingleton<ContractService>();
        services.AddHostedService<ContractExpirySweeper>();
        services.AddJobHandler<ContractTerminationHandler>();
        services.AddJobHandler<AccountCloseHandler>();
        return services;
    }
}
