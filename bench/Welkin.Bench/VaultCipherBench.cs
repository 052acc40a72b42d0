using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Welkin.Core.Vault;

namespace Welkin.Bench;

/// <summary>
/// The retention vault's data path without HTTP: a record's bytes encrypted in chunks
/// (<see cref="VaultCipher"/>) to a file and flushed, then read back authenticated chunk by chunk,
/// against writing and reading the same bytes to a plain file on the same disk, in the same run;
/// with the process's peak working set, which must not grow with the record's size.
/// </summary>
internal static class VaultCipherBench
{
    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var root = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "welkin-vault-bench-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(root);
        Console.WriteLine($"welkin-bench vault-cipher: {Environment.ProcessorCount} cores, {rounds} rounds, chunk {VaultCipher.DefaultChunkBytes} bytes, directory {root}");
        try
        {
            foreach (var size in new[] { 1L << 20, 256L << 20 })
            {
                var source = Path.Combine(root, "source");
                await WriteRandomAsync(source, size);
                double plainWrite = 0, plainRead = 0, vaultWrite = 0, vaultRead = 0;
                for (var round = 0; round < rounds; round++)
                {
                    plainWrite += await TimeAsync(() => PlainWriteAsync(source, Path.Combine(root, "plain")));
                    plainRead += await TimeAsync(() => ReadAllAsync(File.OpenRead(Path.Combine(root, "plain"))));
                    var key = VaultKeys.NewDataKey();
                    VaultCipher.Sealed? written = null;
                    vaultWrite += await TimeAsync(async () => written = await VaultWriteAsync(source, Path.Combine(root, "blob"), key));
                    vaultRead += await TimeAsync(() => ReadAllAsync(VaultCipher.Decrypt(File.OpenRead(Path.Combine(root, "blob")), key, "vrc_bench", written!.Sha256, written.SizeBytes)));
                }
                var mib = size / (1024.0 * 1024.0) * rounds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{size >> 20,4} MiB: PUT vault {mib / vaultWrite,7:0.0} MiB/s vs plain file {mib / plainWrite,7:0.0} MiB/s (ratio {plainWrite / vaultWrite:0.00}) | GET vault {mib / vaultRead,7:0.0} MiB/s vs plain file {mib / plainRead,7:0.0} MiB/s (ratio {plainRead / vaultRead:0.00}) | peak working set {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MiB"));
                await RangeAsync(root, source, size, rounds);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A 64 KiB range from the middle of the record (as an S3 Range GET reads it), against reading the whole record.</summary>
    private static async Task RangeAsync(string root, string source, long size, int rounds)
    {
        var key = VaultKeys.NewDataKey();
        var written = await VaultWriteAsync(source, Path.Combine(root, "blob"), key);
        const int length = 64 * 1024;
        double range = 0, whole = 0;
        for (var round = 0; round < rounds; round++)
        {
            range += await TimeAsync(() => ReadAllAsync(VaultCipher.DecryptRange(File.OpenRead(Path.Combine(root, "blob")), key, "vrc_bench", size, size / 2, length)));
            whole += await TimeAsync(() => ReadAllAsync(VaultCipher.Decrypt(File.OpenRead(Path.Combine(root, "blob")), key, "vrc_bench", written.Sha256, written.SizeBytes)));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{size >> 20,4} MiB: GET 64 KiB range from the middle {range / rounds * 1000,8:0.00} ms vs the whole record {whole / rounds * 1000,8:0.00} ms"));
    }

    private static async Task<double> TimeAsync(Func<Task> work)
    {
        var watch = Stopwatch.StartNew();
        await work();
        return watch.Elapsed.TotalSeconds;
    }

    private static async Task WriteRandomAsync(string path, long size)
    {
        await using var file = File.Create(path);
        var buffer = new byte[1 << 20];
        for (long written = 0; written < size; written += buffer.Length)
        {
            RandomNumberGenerator.Fill(buffer);
            await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)));
        }
    }

    private static async Task PlainWriteAsync(string source, string target)
    {
        await using var input = File.OpenRead(source);
        await using var output = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 1, useAsync: true);
        await input.CopyToAsync(output, VaultCipher.DefaultChunkBytes);
        output.Flush(flushToDisk: true);
    }

    private static async Task<VaultCipher.Sealed> VaultWriteAsync(string source, string target, byte[] key)
    {
        await using var input = File.OpenRead(source);
        await using var output = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 1, useAsync: true);
        var written = await VaultCipher.EncryptAsync(input, output, key, "vrc_bench", VaultCipher.DefaultChunkBytes, long.MaxValue, CancellationToken.None);
        output.Flush(flushToDisk: true);
        return written;
    }

    private static async Task ReadAllAsync(Stream stream)
    {
        await using var _ = stream;
        var buffer = new byte[VaultCipher.DefaultChunkBytes];
        while (await stream.ReadAsync(buffer) > 0)
        {
        }
    }
}
