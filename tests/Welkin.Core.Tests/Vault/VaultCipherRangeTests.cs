using System.Security.Cryptography;
using Welkin.Core.Vault;

namespace Welkin.Core.Tests.Vault;

/// <summary>Range reads of a sealed record: the bytes of the range exactly, from the chunks that hold it, each authenticated.</summary>
public sealed class VaultCipherRangeTests
{
    private const int Chunk = 1024;
    private const string RecordId = "vrc_01ke6p4ym00003w8sxkp8gb5ba";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(5 * Chunk + 17, 0, 1)]
    [InlineData(5 * Chunk + 17, 0, 5 * Chunk + 17)]
    [InlineData(5 * Chunk + 17, Chunk - 1, 2)]
    [InlineData(5 * Chunk + 17, Chunk, Chunk)]
    [InlineData(5 * Chunk + 17, 2 * Chunk + 5, 2 * Chunk + 3)]
    [InlineData(5 * Chunk + 17, 5 * Chunk + 16, 1)]
    [InlineData(4 * Chunk, 3 * Chunk, Chunk)]
    [InlineData(4 * Chunk, 4 * Chunk - 1, 1)]
    public async Task DecryptRange_GivesExactlyThoseBytes(int size, int offset, int length)
    {
        var (plain, key, blob) = await SealAsync(size);

        var part = await CopyAsync(VaultCipher.DecryptRange(new MemoryStream(blob), key, RecordId, size, offset, length));

        part.ShouldBe(plain[offset..(offset + length)]);
    }

    [Fact]
    public async Task DecryptRange_OfADamagedChunkInTheRange_Throws_AndOneOutsideItIsNotRead()
    {
        var (plain, key, blob) = await SealAsync(4 * Chunk + 10);
        blob[VaultCipher.HeaderBytes + 2 * (Chunk + VaultCipher.TagBytes) + 5] ^= 1;

        var before = await CopyAsync(VaultCipher.DecryptRange(new MemoryStream(blob), key, RecordId, plain.Length, 10, Chunk));
        var read = new MemoryStream();
        var damaged = VaultCipher.DecryptRange(new MemoryStream(blob), key, RecordId, plain.Length, Chunk + 10, 2 * Chunk);
        await Should.ThrowAsync<VaultDataException>(() => damaged.CopyToAsync(read, Ct));

        before.ShouldBe(plain[10..(Chunk + 10)]);
        read.Length.ShouldBeLessThanOrEqualTo(Chunk - 10);
    }

    [Fact]
    public async Task DecryptRange_OfABlobCutShortOrGrown_OrOfAnotherRecord_Throws()
    {
        var (plain, key, blob) = await SealAsync(3 * Chunk + 10);

        await Should.ThrowAsync<VaultDataException>(() => CopyAsync(VaultCipher.DecryptRange(new MemoryStream(blob[..^1]), key, RecordId, plain.Length, 0, 10)));
        await Should.ThrowAsync<VaultDataException>(() => CopyAsync(VaultCipher.DecryptRange(new MemoryStream([.. blob, 0]), key, RecordId, plain.Length, 0, 10)));
        await Should.ThrowAsync<VaultDataException>(() => CopyAsync(VaultCipher.DecryptRange(new MemoryStream(blob), key, "vrc_01ke6p4ym00003w8sxkp8gb5bb", plain.Length, 0, 10)));
        // A size other than the record's: the blob's length is not the one that size gives.
        await Should.ThrowAsync<VaultDataException>(() => CopyAsync(VaultCipher.DecryptRange(new MemoryStream(blob), key, RecordId, 3 * Chunk - 1, 2 * Chunk, 10)));
    }

    private static async Task<(byte[] Plain, byte[] Key, byte[] Blob)> SealAsync(int size)
    {
        var plain = RandomNumberGenerator.GetBytes(size);
        var key = VaultKeys.NewDataKey();
        var output = new MemoryStream();
        await VaultCipher.EncryptAsync(new MemoryStream(plain), output, key, RecordId, Chunk, long.MaxValue, Ct);
        return (plain, key, output.ToArray());
    }

    private static async Task<byte[]> CopyAsync(Stream plain)
    {
        await using var _ = plain;
        var output = new MemoryStream();
        await plain.CopyToAsync(output, Ct);
        return output.ToArray();
    }
}
