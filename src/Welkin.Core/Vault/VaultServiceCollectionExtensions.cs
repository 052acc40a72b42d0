using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Common;

namespace Welkin.Core.Vault;

public static class VaultServiceCollectionExtensions
{
    /// <summary>Vaults, records, their destruction and the expiry sweep; needs an <see cref="IMasterKey"/>, the audit signing key and the event log.</summary>
    public static IServiceCollection AddRetentionVault(this IServiceCollection services, VaultOptions options)
    {
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton<VaultKeys>();
        services.AddSingleton<VaultService>();
        services.AddSingleton<RecordService>();
        services.AddSingleton<RecordKeys>();
        services.AddSingleton<RecordUploads>();
        services.AddSingleton<RecordVersions>();
        services.AddSingleton<RecordDestruction>();
        services.AddSingleton<SoxReports>();
        services.AddSingleton<VaultGrants>();
        services.AddSingleton<VaultGrantLinks>();
        services.AddSingleton<Contracts.IContractResources, VaultContractResources>();
        services.AddPeriodicWork<VaultSweepWork>();
        services.AddPeriodicWork<UploadSweepWork>();
        return services;
    }
}
