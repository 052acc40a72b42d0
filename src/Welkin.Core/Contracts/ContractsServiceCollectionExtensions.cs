using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Common;
using Welkin.Core.Jobs;

namespace Welkin.Core.Contracts;

public static class ContractsServiceCollectionExtensions
{
    /// <summary>
    /// Contracts, their expiry sweep and the termination job, and the closing of accounts (its job
    /// and the periodic work that finishes it); needs <see cref="Jobs.JobServiceCollectionExtensions.AddJobs"/>.
    /// </summary>
    public static IServiceCollection AddContracts(this IServiceCollection services, ContractOptions? options = null)
    {
        services.AddSingleton(options ?? new ContractOptions());
        services.AddSingleton<ContractService>();
        services.AddPeriodicWork<ContractExpirySweeper>();
        services.AddJobHandler<ContractTerminationHandler>();
        services.AddSingleton<Accounts.AccountClosings>();
        services.AddJobHandler<Accounts.AccountCloseHandler>();
        services.AddPeriodicWork<Accounts.AccountClosingWork>();
        return services;
    }
}
