using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Welkin.Core.Common;

namespace Welkin.Core.Vault;

/// <summary>Reading part of a record: only the chunks that hold the range are read and decrypted.</summary>
public static partial class VaultCipher
{
    /// <summary>
    /// A stream of <paramref name="length"/> plaintext bytes from <paramref name="offset"/> of the
    /// seekable <paramref name="encrypted"/> blob of a <paramref name="sizeBytes"/>-byte record. Each
    /// chunk read is authenticated (its index, whether it is the last, the record id) before any of its
    /// bytes are returned, and the blob's length must be the one its size gives; the whole content's
    /// SHA-256 cannot be checked without reading it all. Anything amiss throws <see cref="VaultDataException"/>.
    /// </summary>
    public static Stream DecryptRange(Stream encrypted, byte[] dataKey, string recordId, long sizeBytes, long offset, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + length, sizeBytes);
        return new RangeStream(encrypted, dataKey, recordId, sizeBytes, offset, length);
    }

    private sealed class RangeStream(Stream inner, byte[] dataKey, string recordId, long sizeBytes, long offset, long length) : ReadOnlyStream
    {
        private readonly AesGcm _aes = new(dataKey, TagBytes);
        private readonly byte[] _recordId = Encoding.UTF8.GetBytes(recordId);
        private byte[]? _header;
        private byte[] _sealed = [];
        private byte[] _plain = [];
        private int _plainOffset;
        private int _plainLength;
        private long _chunkBytes;
        private ulong _index;
        private ulong _lastIndex;
        private long _remaining = -1;

        public override long Length => length;

        public override long Position { get => _remaining < 0 ? 0 : length - _remaining - (_plainLength - _plainOffset); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_plainOffset == _plainLength)
            {
                if (_remaining == 0)
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

        private async Task StartAsync(CancellationToken ct)
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
            // A blob cut short or grown fails here, as it would at the end of a whole read.
            if (inner.Length != EncryptedSize(sizeBytes, (int)chunkBytes))
            {
                throw Corrupt("its length is not the one its size gives");
            }
            _header = header;
            _remaining = length;
            _chunkBytes = chunkBytes;
            _sealed = new byte[chunkBytes + TagBytes];
            _plain = new byte[chunkBytes];
            _index = (ulong)(offset / chunkBytes);
            _lastIndex = (ulong)(sizeBytes / chunkBytes);
            inner.Seek(HeaderBytes + (long)_index * (chunkBytes + TagBytes), SeekOrigin.Begin);
        }

        private async Task NextChunkAsync(CancellationToken ct)
        {
            if (_header is null)
            {
                await StartAsync(ct);
            }
            var chunkStart = (long)_index * _chunkBytes;
            var final = _index == _lastIndex;
            var plainLength = (int)(final ? sizeBytes - chunkStart : _chunkBytes);
            if (await inner.ReadAtLeastAsync(_sealed.AsMemory(0, plainLength + TagBytes), plainLength + TagBytes, throwOnEndOfStream: false, ct) != plainLength + TagBytes)
            {
                throw Corrupt("it ends before its last chunk");
            }
            Span<byte> nonce = stackalloc byte[12];
            try
            {
                _aes.Decrypt(Nonce(nonce, _index), _sealed.AsSpan(0, plainLength), _sealed.AsSpan(plainLength, TagBytes), _plain.AsSpan(0, plainLength),
                    Associated(_header!, _index, final, _recordId));
            }
            catch (AuthenticationTagMismatchException)
            {
                throw Corrupt(string.Create(CultureInfo.InvariantCulture, $"chunk {_index} does not authenticate"));
            }
            _index++;
            var skip = (int)Math.Max(0, offset - chunkStart);
            var take = (int)Math.Min(plainLength - skip, _remaining);
            _plainOffset = skip;
            _plainLength = skip + take;
            _remaining -= take;
        }

        private static VaultDataException Corrupt(string why) => new($"The record's stored bytes are damaged: {why}.");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _aes.Dispose();
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
