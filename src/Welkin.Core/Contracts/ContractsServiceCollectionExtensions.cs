using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Common;
using Welkin.Core.Jobs;

namespace Welkin.Core.Contracts;

public static class ContractsServiceCollectionExtensions
{
    /// <summary>Contracts, their expiry sweep and the termination job, and the job of closing an account; needs <see cref="Jobs.JobServiceCollectionExtensions.AddJobs"/>.</summary>
    public static IServiceCollection AddContracts(this IServiceCollection services, ContractOptions? options = null)
    {
        services.AddSingleton(options ?? new ContractOptions());
        services.AddSingleton<ContractService>();
        services.AddPeriodicWork<ContractExpirySweeper>();
        services.AddJobHandler<ContractTerminationHandler>();
        services.AddSingleton<Accounts.AccountClosing>();
        services.AddJobHandler<Accounts.AccountCloseHandler>();
        return services;
    }
}
