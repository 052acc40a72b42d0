using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Welkin.Core.Catalog.Images;

public static class ImagesServiceCollectionExtensions
{
    /// <summary>Images of the Service Catalog; blobs go to a <see cref="FileBlobStore"/> unless another <see cref="IBlobStore"/> is registered first.</summary>
    public static IServiceCollection AddImages(this IServiceCollection services, ImageOptions options)
    {
        services.AddSingleton(options);
        services.TryAddSingleton<IBlobStore>(_ => new FileBlobStore(options.BlobRoot));
        services.AddSingleton<ImageService>();
        services.AddSingleton<Compute.IImageResolver, ImageResolver>();
        return services;
    }
}
