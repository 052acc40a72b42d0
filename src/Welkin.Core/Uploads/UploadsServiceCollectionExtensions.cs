using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;

namespace Welkin.Core.Uploads;

public static class UploadsServiceCollectionExtensions
{
    /// <summary>Resumable uploads of accounts, their expiry, and the images accounts make of them (needs <c>AddImages()</c> and <c>AddOvfPackages()</c>).</summary>
    public static IServiceCollection AddUploads(this IServiceCollection services, UploadOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton<UploadService>();
        services.AddSingleton<AccountImageService>();
        services.AddPeriodicWork<UploadExpirySweeper>();
        return services;
    }
}
