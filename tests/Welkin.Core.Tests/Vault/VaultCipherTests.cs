using System.Security.Cryptography;
using Welkin.Core.Vault;

namespace Welkin.Core.Tests.Vault;

public sealed class VaultCipherTests
{
    private const int Chunk = 1024;
    private const string RecordId = "vrc_01ke6p4ym00003w8sxkp8gb5ba";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Chunk - 1)]
    [InlineData(Chunk)]
    [InlineData(Chunk + 1)]
    [InlineData(5 * Chunk)]
    [InlineData(5 * Chunk + 17)]
    public async Task Decrypt_OfEncrypt_GivesTheContentBack(int size)
    {
        var (plain, key, blob, sealedInfo) = await SealAsync(size);

        sealedInfo.SizeBytes.ShouldBe((long)size);
        sealedInfo.Sha256.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(plain)));
        ((long)blob.Length).ShouldBe(VaultCipher.EncryptedSize(size, Chunk));
        (await DecryptAsync(blob, key, sealedInfo)).ShouldBe(plain);
    }

    [Fact]
    public async Task Encrypt_PastTheMaximum_StopsAndSaysSo()
    {
        var result = await VaultCipher.EncryptAsync(new MemoryStream(new byte[3 * Chunk]), Stream.Null, VaultKeys.NewDataKey(), RecordId, Chunk, 2 * Chunk, Ct);

        result.TooLarge.ShouldBeTrue();
    }

    [Fact]
    public async Task Decrypt_AFlippedBit_Throws_BeforeGivingThatChunk()
    {
        var (_, key, blob, info) = await SealAsync(3 * Chunk + 10);
        blob[VaultCipher.HeaderBytes + Chunk + VaultCipher.TagBytes + 5] ^= 1;

        var read = new MemoryStream();
        var plain = VaultCipher.Decrypt(new MemoryStream(blob), key, RecordId, info.Sha256, info.SizeBytes);
        await Should.ThrowAsync<VaultDataException>(() => plain.CopyToAsync(read, Ct));
        read.Length.ShouldBeLessThanOrEqualTo(Chunk);
    }

    [Fact]
    public async Task Decrypt_SwappedChunks_Throws()
    {
        var (_, key, blob, info) = await SealAsync(3 * Chunk + 10);
        var sealedChunk = Chunk + VaultCipher.TagBytes;
        var first = blob.AsSpan(VaultCipher.HeaderBytes, sealedChunk).ToArray();
        blob.AsSpan(VaultCipher.HeaderBytes + sealedChunk, sealedChunk).CopyTo(blob.AsSpan(VaultCipher.HeaderBytes));
        first.CopyTo(blob, VaultCipher.HeaderBytes + sealedChunk);

        await Should.ThrowAsync<VaultDataException>(() => DecryptAsync(blob, key, info));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(Chunk + VaultCipher.TagBytes)]
    [InlineData(10 + VaultCipher.TagBytes)]
    public async Task Decrypt_ATruncatedBlob_Throws(int cut)
    {
        var (_, key, blob, info) = await SealAsync(3 * Chunk + 10);

        await Should.ThrowAsync<VaultDataException>(() => DecryptAsync(blob[..^cut], key, info));
    }

    [Fact]
    public async Task Decrypt_CutAtAChunkBoundary_Throws()
    {
        var (_, key, blob, info) = await SealAsync(3 * Chunk);

        // The final chunk of an exact multiple is an empty one (its tag alone): without it the blob ends on a non-final chunk.
        await Should.ThrowAsync<VaultDataException>(() => DecryptAsync(blob[..^VaultCipher.TagBytes], key, info));
    }

    [Fact]
    public async Task Decrypt_WithAnotherRecordsId_OrKey_Throws()
    {
        var (_, key, blob, info) = await SealAsync(100);

        await Should.ThrowAsync<VaultDataException>(() => CopyAsync(VaultCipher.Decrypt(new MemoryStream(blob), key, "vrc_other", info.Sha256, info.SizeBytes)));
        await Should.ThrowAsync<VaultDataException>(() => DecryptAsync(blob, VaultKeys.NewDataKey(), info));
    }

    [Fact]
    public async Task Decrypt_WithAnotherRecordedDigest_Throws()
    {
        var (_, key, blob, info) = await SealAsync(100);

        await Should.ThrowAsync<VaultDataException>(() => DecryptAsync(blob, key, info with { Sha256 = new string('0', 64) }));
    }

    private static async Task<(byte[] Plain, byte[] Key, byte[] Blob, VaultCipher.Sealed Info)> SealAsync(int size)
    {
        var plain = RandomNumberGenerator.GetBytes(size);
        var key = VaultKeys.NewDataKey();
        var output = new MemoryStream();
        var info = await VaultCipher.EncryptAsync(new MemoryStream(plain), output, key, RecordId, Chunk, long.MaxValue, Ct);
        return (plain, key, output.ToArray(), info);
    }

    private static Task<byte[]> DecryptAsync(byte[] blob, byte[] key, VaultCipher.Sealed info) =>
        CopyAsync(VaultCipher.Decrypt(new MemoryStream(blob), key, RecordId, info.Sha256, info.SizeBytes));

    private static async Task<byte[]> CopyAsync(Stream plain)
    {
        await using var _ = plain;
        var output = new MemoryStream();
        await plain.CopyToAsync(output, Ct);
        return output.ToArray();
    }
}
