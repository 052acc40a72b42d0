using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Welkin.Core.Common;
using Welkin.Core.Ovf;

namespace Welkin.Core.Catalog;

public static class OvfPackagesServiceCollectionExtensions
{
    /// <summary>OVF import and export; needs the Service Catalog, images, the Service Manager and a compute driver.</summary>
    public static IServiceCollection AddOvfPackages(this IServiceCollection services, OvfPackageOptions options, QemuImgOptions? qemuImg = null)
    {
        services.AddSingleton(options);
        services.TryAddSingleton(qemuImg ?? new QemuImgOptions());
        services.AddSingleton<QemuImg>();
        services.AddSingleton<OvfPackages>();
        return services;
    }

    /// <summary>Machine packages kept for resumable downloads, and their expiry; needs <c>AddOvfPackages()</c>.</summary>
    public static IServiceCollection AddMachinePackages(this IServiceCollection services, MachinePackageOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton<MachinePackageService>();
        services.AddPeriodicWork<MachinePackageExpirySweeper>();
        return services;
    }
}
