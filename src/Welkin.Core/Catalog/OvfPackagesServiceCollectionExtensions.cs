using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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
}
