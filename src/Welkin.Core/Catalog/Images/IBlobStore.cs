using Welkin.Core.Common;

namespace Welkin.Core.Catalog.Images;

/// <summary>
/// Content-addressed storage of large immutable byte strings, each named by the lower-case hex
/// SHA-256 of its content, so identical content is stored once. Writing is in two steps so that
/// a blob becomes visible under its digest only inside the database transaction that records it:
/// <see cref="StageAsync"/> streams and hashes the content into a staging area, then
/// <see cref="IStagedBlob.Commit"/> publishes it. Removal is likewise undoable until that
/// transaction commits (<see cref="Detach"/>).
/// To add a store (object storage, a shared file system with another layout): implement this
/// interface and register it before <c>AddImages()</c>, which only adds the file store when none is registered.
/// </summary>
public interface IBlobStore
{
    /// <summary>
    /// Reads <paramref name="content"/> to its end in constant memory, hashing and counting it.
    /// More than <paramref name="maxBytes"/> bytes gives a <see cref="ErrorKind.PayloadTooLarge"/>
    /// error and leaves nothing behind; so does an exception (a client that disconnects).
    /// </summary>
    Task<Result<IStagedBlob>> StageAsync(Stream content, long maxBytes, CancellationToken ct);

    /// <summary>A seekable read-only stream of the blob, or null when the store does not hold it.</summary>
    Stream? OpenRead(string sha256);

    bool Exists(string sha256);

    /// <summary>The blob as a file of this machine, for programs that open files (QEMU, qemu-img); null when the store keeps no local files.</summary>
    string? LocalPath(string sha256) => null;

    /// <summary>Takes the blob out of sight; null when the store does not hold it.</summary>
    IBlobRemoval? Detach(string sha256);
}

/// <summary>Content received and hashed but not yet published. Disposing it without <see cref="Commit"/> discards it.</summary>
public interface IStagedBlob : IAsyncDisposable
{
    string Sha256 { get; }

    long SizeBytes { get; }

    /// <summary>The first bytes of the content (up to <see cref="BlobHead.Length"/>), for format detection.</summary>
    ReadOnlyMemory<byte> Head { get; }

    /// <summary>The last bytes of the content (up to <see cref="BlobHead.Length"/>), for formats known by a footer (a fixed VHD).</summary>
    ReadOnlyMemory<byte> Tail { get; }

    /// <summary>Publishes the content under its digest; when the store already holds that digest the staged copy is dropped.</summary>
    void Commit();
}

/// <summary>A detached blob: <see cref="Complete"/> deletes it for good, <see cref="Undo"/> puts it back.</summary>
public interface IBlobRemoval
{
    void Complete();

    void Undo();
}

public static class BlobHead
{
    public const int Length = 512;
}

public static class Sha256Hex
{
    /// <summary>True for exactly 64 lower-case hexadecimal characters, the only names the store accepts.</summary>
    public static bool IsValid(string? value) =>
        value is { Length: 64 } && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
}
