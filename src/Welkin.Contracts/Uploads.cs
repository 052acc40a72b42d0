namespace Welkin.Contracts;

/// <summary>Opens a resumable upload of <paramref name="SizeBytes"/> bytes whose SHA-256 (64 hexadecimal characters) is <paramref name="Sha256"/>.</summary>
public sealed record CreateUploadRequest(long SizeBytes, string Sha256);

public enum UploadState
{
    /// <summary>Bytes are still missing: send them with <c>PUT</c> and <c>Content-Range</c> from <see cref="UploadView.ReceivedBytes"/>.</summary>
    Receiving,

    /// <summary>Every byte arrived and the content's SHA-256 is the declared one.</summary>
    Complete,
}

/// <summary>
/// A resumable upload of an account: <paramref name="ReceivedBytes"/> are durably stored (the offset
/// the next chunk starts at); the upload and its bytes are deleted at <paramref name="Expires"/>,
/// which every received chunk moves later.
/// </summary>
public sealed record UploadView(
    string Id,
    string AccountId,
    long SizeBytes,
    string Sha256,
    long ReceivedBytes,
    UploadState State,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Expires);

/// <summary>
/// Makes an image of the account from a complete upload: an OVA as Welkin exports a machine (one
/// disk), or a plain disk (raw, qcow2 or vmdk). The upload is used up.
/// </summary>
public sealed record CreateAccountImageRequest(string UploadId, string Name, string? Description = null);

/// <summary>
/// An image that belongs to an account: only that account sees it and may provision from it
/// (<see cref="VirtualSystemChoice.ImageId"/>). <paramref name="VirtualSizeBytes"/> is the disk's size as
/// the guest sees it; the contract line's disk must be at least as large.
/// </summary>
public sealed record AccountImageView(
    string Id,
    string AccountId,
    string Name,
    string? Description,
    ImageFormat Format,
    long SizeBytes,
    long VirtualSizeBytes,
    string Sha256,
    ImageState State,
    long Version,
    DateTimeOffset Created);
