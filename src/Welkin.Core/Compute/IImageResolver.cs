using Welkin.Core.Common;

namespace Welkin.Core.Compute;

/// <summary>
/// An image as a driver of real machines boots it: the disk's file and format, and for images
/// booted by direct kernel boot (as OpenStack's kernel_id and ramdisk_id properties do), the
/// kernel, the initial ramdisk and the kernel command line. Every file is named by its SHA-256,
/// so a driver can keep its own copy of a base image under that name. An image may name the line
/// its guest prints on the serial console once it is up (<see cref="ReadyMarker"/>): a driver then
/// reports the machine running only when the guest is, as a cloud's status check does.
/// </summary>
public sealed record BootImage(
    string ImageId,
    string DiskPath,
    string DiskFormat,
    string DiskSha256,
    string? KernelPath = null,
    string? KernelSha256 = null,
    string? RamdiskPath = null,
    string? RamdiskSha256 = null,
    string? CommandLine = null,
    string? ReadyMarker = null);

/// <summary>Finds the files of a catalog image for a driver (the Service Catalog implements it).</summary>
public interface IImageResolver
{
    /// <summary>The image's files, or <c>image-unavailable</c> when it does not exist, was deleted or cannot boot.</summary>
    Task<Result<BootImage>> ResolveAsync(string imageId, CancellationToken ct);
}

public static class ImageErrors
{
    public static Error Unavailable(string imageId, string why) =>
        new("image-unavailable", ErrorKind.Conflict, $"Image '{imageId}' cannot be used: {why}");
}
