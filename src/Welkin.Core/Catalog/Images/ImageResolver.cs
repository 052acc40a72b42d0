using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;

namespace Welkin.Core.Catalog.Images;

/// <summary>The Service Catalog's answer to a driver asking for an image's files: the disk's blob and, when set, its kernel and ramdisk.</summary>
public sealed class ImageResolver(IDatabase db, IBlobStore blobs) : IImageResolver
{
    public async Task<Result<BootImage>> ResolveAsync(string imageId, CancellationToken ct)
    {
        var image = await FileAsync(imageId, ct);
        if (!image.IsSuccess)
        {
            return image.Error!;
        }
        var (row, path) = image.Value;
        var boot = row.BootSettings;
        string? kernel = null, kernelSha = null, ramdisk = null, ramdiskSha = null;
        if (boot?.KernelImageId is { } kernelId && boot.RamdiskImageId is { } ramdiskId)
        {
            var k = await FileAsync(kernelId, ct);
            var r = await FileAsync(ramdiskId, ct);
            if (!k.IsSuccess || !r.IsSuccess)
            {
                return ImageErrors.Unavailable(imageId, $"its kernel or ramdisk image is gone ({(k.IsSuccess ? r.Error!.Detail : k.Error!.Detail)})");
            }
            (kernel, kernelSha) = (k.Value.Path, k.Value.Row.Sha256);
            (ramdisk, ramdiskSha) = (r.Value.Path, r.Value.Row.Sha256);
        }
        return new BootImage(imageId, path, row.Format, row.Sha256, kernel, kernelSha, ramdisk, ramdiskSha, boot?.CommandLine, boot?.ReadyMarker);
    }

    private async Task<Result<(ImageService.ImageRow Row, string Path)>> FileAsync(string imageId, CancellationToken ct)
    {
        var row = await ImageService.FindAsync(db, imageId, ct);
        if (row is null || row.State != WireNames.Of(ImageState.Available))
        {
            return ImageErrors.Unavailable(imageId, "it does not exist or was deleted.");
        }
        return blobs.LocalPath(row.Sha256) is { } path
            ? (row, path)
            : ImageErrors.Unavailable(imageId, "the blob store keeps no local file of it.");
    }
}
