using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Welkin.Core.Common;

namespace Welkin.Core.Catalog.Images;

/// <summary>
/// Blobs as files: <c>root/sha256/ab/abcdef…</c> (the full hex digest as the name, its first two
/// characters as a fan-out directory), staged under <c>root/tmp</c> and detached into
/// <c>root/trash</c>. Names come only from digests this store computed or validated, never from a client.
/// Staged files are fsynced before they are renamed into place, and the directory after, so a
/// blob a committed database row points to survives a power loss.
/// </summary>
public sealed class FileBlobStore : IBlobStore
{
    private const int BufferSize = 128 * 1024;
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public FileBlobStore(string root)
    {
        Root = Path.GetFullPath(root);
        StagingDirectory = Path.Combine(Root, "tmp");
        TrashDirectory = Path.Combine(Root, "trash");
    }

    public string Root { get; }

    public string StagingDirectory { get; }

    public string TrashDirectory { get; }

    public string PathOf(string sha256)
    {
        if (!Sha256Hex.IsValid(sha256))
        {
            throw new ArgumentException("A blob name is a lower-case hex SHA-256 digest.", nameof(sha256));
        }
        return Path.Combine(Root, "sha256", sha256[..2], sha256);
    }

    public async Task<Result<IStagedBlob>> StageAsync(Stream content, long maxBytes, CancellationToken ct)
    {
        Directory.CreateDirectory(StagingDirectory, DirectoryMode);
        var temp = Path.Combine(StagingDirectory, Guid.NewGuid().ToString("n") + ".part");
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var kept = false;
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var head = new byte[BlobHead.Length];
            var headLength = 0;
            var tail = new byte[BlobHead.Length];
            var tailLength = 0;
            long total = 0;
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous,
                BufferSize = 0,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            await using (var file = new FileStream(temp, options))
            {
                int read;
                while ((read = await content.ReadAsync(buffer.AsMemory(0, BufferSize), ct)) > 0)
                {
                    total += read;
                    if (total > maxBytes)
                    {
                        return new Error("body-too-large", ErrorKind.PayloadTooLarge, $"The content is larger than the limit of {maxBytes} bytes.");
                    }
                    var chunk = buffer.AsMemory(0, read);
                    hash.AppendData(chunk.Span);
                    if (headLength < head.Length)
                    {
                        var n = Math.Min(read, head.Length - headLength);
                        chunk.Span[..n].CopyTo(head.AsSpan(headLength));
                        headLength += n;
                    }
                    tailLength = KeepTail(tail, tailLength, chunk.Span);
                    await file.WriteAsync(chunk, ct);
                }
                file.Flush(flushToDisk: true);
            }
            File.SetUnixFileMode(temp, UnixFileMode.UserRead);
            kept = true;
            return new StagedFile(this, temp, Convert.ToHexStringLower(hash.GetHashAndReset()), total, head.AsMemory(0, headLength), tail.AsMemory(0, tailLength));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!kept)
            {
                File.Delete(temp);
            }
        }
    }

    public Stream? OpenRead(string sha256)
    {
        try
        {
            return new FileStream(PathOf(sha256), new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                // A blob detached while it is being downloaded stays readable through this handle.
                Share = FileShare.Read | FileShare.Delete,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
                BufferSize = 0,
            });
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public bool Exists(string sha256) => File.Exists(PathOf(sha256));

    public string? LocalPath(string sha256) => Exists(sha256) ? PathOf(sha256) : null;

    public IBlobRemoval? Detach(string sha256)
    {
        var path = PathOf(sha256);
        Directory.CreateDirectory(TrashDirectory, DirectoryMode);
        var trashed = Path.Combine(TrashDirectory, sha256 + "." + Guid.NewGuid().ToString("n"));
        try
        {
            File.Move(path, trashed);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        return new Removal(path, trashed);
    }

    private void Publish(string temp, string sha256)
    {
        var path = PathOf(sha256);
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory, DirectoryMode);
        if (File.Exists(path))
        {
            File.Delete(temp);
            return;
        }
        try
        {
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Published by someone else in the meantime: same digest, same content.
            File.Delete(temp);
            return;
        }
        Posix.SyncDirectory(directory);
    }

    // The last tail.Length bytes seen so far, after chunk: the kept ones shifted down, then the chunk's end.
    private static int KeepTail(byte[] tail, int length, ReadOnlySpan<byte> chunk)
    {
        if (chunk.Length >= tail.Length)
        {
            chunk[^tail.Length..].CopyTo(tail);
            return tail.Length;
        }
        var keep = Math.Min(length, tail.Length - chunk.Length);
        tail.AsSpan(length - keep, keep).CopyTo(tail);
        chunk.CopyTo(tail.AsSpan(keep));
        return keep + chunk.Length;
    }

    private sealed class StagedFile(FileBlobStore store, string temp, string sha256, long size, ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> tail) : IStagedBlob
    {
        private bool _committed;

        public string Sha256 => sha256;

        public long SizeBytes => size;

        public ReadOnlyMemory<byte> Head => head;

        public ReadOnlyMemory<byte> Tail => tail;

        public void Commit()
        {
            if (_committed)
            {
                return;
            }
            store.Publish(temp, sha256);
            _committed = true;
        }

        public ValueTask DisposeAsync()
        {
            if (!_committed)
            {
                File.Delete(temp);
            }
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Removal(string path, string trashed) : IBlobRemoval
    {
        public void Complete() => File.Delete(trashed);

        public void Undo()
        {
            try
            {
                File.Move(trashed, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Published again meanwhile (same digest, same content).
                File.Delete(trashed);
            }
        }
    }
}

internal static class Posix
{
    private const int ORdonly = 0;
    private const int ODirectory = 0x10000;

    /// <summary>fsync(2) on a directory makes a rename in it durable; .NET offers no managed way to open a directory.</summary>
    public static void SyncDirectory(string path)
    {
        var fd = Open(path, ORdonly | ODirectory);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {path} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {path} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    // DllImport rather than LibraryImport: the source-generated form needs AllowUnsafeBlocks for the string.
    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);
}
