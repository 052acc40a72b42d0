using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Welkin.Core.Common;

namespace Welkin.Core.Vault;

/// <summary>The bytes of a record do not authenticate: altered, reordered, cut short or grown on disk.</summary>
public sealed class VaultDataException(string message) : IOException(message);

/// <summary>
/// The encrypted form of a record (docs/vault.md, "Blob format"), streamed in constant memory:
/// an 8-byte header ("WKV1" and the chunk size C, uint32 big-endian), then chunks of C plaintext
/// bytes, each sealed with AES-256-GCM under the record's own data key and stored as ciphertext and
/// its 16-byte tag. Chunk i's nonce is 4 zero bytes and i (uint64 big-endian), unique because the key
/// is the record's alone; its associated data is the header, i, a final flag (1 for the last chunk)
/// and the record id. The last chunk is always shorter than C (empty when the content is a multiple
/// of C), so a reader knows it without a length field: a chunk moved elsewhere fails its tag, a blob
/// cut at a chunk boundary lacks its final chunk, and one cut inside a chunk fails the tag.
/// </summary>
public static partial class VaultCipher
{
    public const int DefaultChunkBytes = 64 * 1024;
    public const int HeaderBytes = 8;
    public const int TagBytes = 16;

    private static readonly byte[] Magic = "WKV1"u8.ToArray();

    /// <summary>What was written: the plaintext's SHA-256 (hex) and length, or TooLarge once it passed <c>maxBytes</c> (the output is then incomplete).</summary>
    public sealed record Sealed(string Sha256, long SizeBytes, bool TooLarge);

    public static byte[] Header(int chunkBytes)
    {
        var header = new byte[HeaderBytes];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)chunkBytes);
        return header;
    }

    /// <summary>The encrypted size of <paramref name="plainBytes"/> bytes.</summary>
    public static long EncryptedSize(long plainBytes, int chunkBytes) => HeaderBytes + plainBytes + (plainBytes / chunkBytes + 1) * TagBytes;

    /// <summary>Encrypts <paramref name="plain"/> to <paramref name="output"/> until its end, or stops (TooLarge) once it passes <paramref name="maxBytes"/>.</summary>
    public static async Task<Sealed> EncryptAsync(Stream plain, Stream output, byte[] dataKey, string recordId, int chunkBytes, long maxBytes, CancellationToken ct)
    {
        var header = Header(chunkBytes);
        await output.WriteAsync(header, ct);
        using var aes = new AesGcm(dataKey, TagBytes);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var input = new byte[chunkBytes];
        var sealedChunk = new byte[chunkBytes + TagBytes];
        var recordIdBytes = Encoding.UTF8.GetBytes(recordId);
        long total = 0;
        for (ulong index = 0; ; index++)
        {
            var n = await plain.ReadAtLeastAsync(input, chunkBytes, throwOnEndOfStream: false, ct);
            total += n;
            if (total > maxBytes)
            {
                return new Sealed("", total, TooLarge: true);
            }
            sha.AppendData(input, 0, n);
            var final = n < chunkBytes;
            Seal(aes, header, index, final, recordIdBytes, input.AsSpan(0, n), sealedChunk.AsSpan(0, n + TagBytes));
            await output.WriteAsync(sealedChunk.AsMemory(0, n + TagBytes), ct);
            if (final)
            {
                return new Sealed(Convert.ToHexStringLower(sha.GetHashAndReset()), total, TooLarge: false);
            }
        }
    }

    /// <summary>
    /// A stream of the plaintext of <paramref name="encrypted"/>: each chunk is authenticated before
    /// any of its bytes are returned, and the end is checked against <paramref name="sha256"/> and
    /// <paramref name="sizeBytes"/>; anything amiss throws <see cref="VaultDataException"/>.
    /// </summary>
    public static Stream Decrypt(Stream encrypted, byte[] dataKey, string recordId, string sha256, long sizeBytes) =>
        new DecryptingStream(encrypted, dataKey, recordId, sha256, sizeBytes);

    private static Span<byte> Nonce(Span<byte> nonce, ulong index)
    {
        nonce.Clear();
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], index);
        return nonce;
    }

    private static byte[] Associated(byte[] header, ulong index, bool final, byte[] recordId)
    {
        var aad = new byte[HeaderBytes + 9 + recordId.Length];
        header.CopyTo(aad, 0);
        BinaryPrimitives.WriteUInt64BigEndian(aad.AsSpan(HeaderBytes), index);
        aad[HeaderBytes + 8] = final ? (byte)1 : (byte)0;
        recordId.CopyTo(aad, HeaderBytes + 9);
        return aad;
    }

    private static void Seal(AesGcm aes, byte[] header, ulong index, bool final, byte[] recordId, ReadOnlySpan<byte> plain, Span<byte> output)
    {
        Span<byte> nonce = stackalloc byte[12];
        aes.Encrypt(Nonce(nonce, index), plain, output[..plain.Length], output[plain.Length..], Associated(header, index, final, recordId));
    }

    private sealed class DecryptingStream(Stream inner, byte[] dataKey, string recordId, string sha256, long sizeBytes) : ReadOnlyStream
    {
        private readonly AesGcm _aes = new(dataKey, TagBytes);
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] _recordId = Encoding.UTF8.GetBytes(recordId);
        private byte[]? _header;
        private byte[] _sealed = [];
        private byte[] _plain = [];
        private int _plainOffset;
        private int _plainLength;
        private ulong _index;
        private long _total;
        private bool _done;

        public override long Length => sizeBytes;

        public override long Position { get => _total - (_plainLength - _plainOffset); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_plainOffset == _plainLength)
            {
                if (_done)
                {
                    return 0;
                }
                await NextChunkAsync(cancellationToken);
            }
            var n = Math.Min(buffer.Length, _plainLength - _plainOffset);
            _plain.AsMemory(_plainOffset, n).CopyTo(buffer);
            _plainOffset += n;
            return n;
        }

        private async Task NextChunkAsync(CancellationToken ct)
        {
            if (_header is null)
            {
                var header = new byte[HeaderBytes];
                if (await inner.ReadAtLeastAsync(header, HeaderBytes, throwOnEndOfStream: false, ct) != HeaderBytes || !header.AsSpan(0, 4).SequenceEqual(Magic))
                {
                    throw Corrupt("its header is not a vault blob's");
                }
                var chunkBytes = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
                if (chunkBytes is < 1 or > 64 * 1024 * 1024)
                {
                    throw Corrupt("its header names an impossible chunk size");
                }
                _header = header;
                _sealed = new byte[chunkBytes + TagBytes];
                _plain = new byte[chunkBytes];
            }
            var n = await inner.ReadAtLeastAsync(_sealed, _sealed.Length, throwOnEndOfStream: false, ct);
            if (n < TagBytes)
            {
                throw Corrupt("it ends before its last chunk");
            }
            var final = n < _sealed.Length;
            var length = n - TagBytes;
            Span<byte> nonce = stackalloc byte[12];
            try
            {
                _aes.Decrypt(Nonce(nonce, _index), _sealed.AsSpan(0, length), _sealed.AsSpan(length, TagBytes), _plain.AsSpan(0, length),
                    Associated(_header, _index, final, _recordId));
            }
            catch (AuthenticationTagMismatchException)
            {
                throw Corrupt(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"chunk {_index} does not authenticate"));
            }
            _index++;
            _total += length;
            _sha.AppendData(_plain, 0, length);
            _plainOffset = 0;
            _plainLength = length;
            if (final)
            {
                _done = true;
                if (_total != sizeBytes || Convert.ToHexStringLower(_sha.GetHashAndReset()) != sha256)
                {
                    throw Corrupt("its content does not match the recorded size and SHA-256");
                }
            }
        }

        private static VaultDataException Corrupt(string why) => new($"The record's stored bytes are damaged: {why}.");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _aes.Dispose();
                _sha.Dispose();
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
