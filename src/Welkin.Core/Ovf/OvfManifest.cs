using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Welkin.Core.Common;

namespace Welkin.Core.Ovf;

public sealed record ManifestEntry(string Algorithm, string File, string Digest);

/// <summary>Lower-case hex digests of one file.</summary>
public sealed record FileDigests(string Sha1, string Sha256, string Sha512);

/// <summary>
/// An OVF manifest (.mf, OVF 2.0 5.1): one "SHA256(file)= hex" line per file of the package
/// (SHA1 in OVF 1.x packages, SHA512 from ovftool 4.x). VirtualBox writes "SHA1 (file) = hex",
/// with spaces around the name and the '='; both forms are read.
/// </summary>
public sealed partial record OvfManifest(IReadOnlyList<ManifestEntry> Entries)
{
    public const int MaxBytes = 1024 * 1024;

    public static Result<OvfManifest> Parse(string text)
    {
        if (text.Length > MaxBytes)
        {
            return OvfErrors.TooLarge("The manifest", MaxBytes);
        }
        var entries = new List<ManifestEntry>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r').Trim();
            if (line.Length == 0)
            {
                continue;
            }
            var m = Line().Match(line);
            if (!m.Success)
            {
                return OvfErrors.ManifestInvalid(i + 1, "expected 'SHA256(file)= hex' (or SHA1, SHA512).");
            }
            var algorithm = m.Groups[1].Value.ToUpperInvariant();
            var digest = m.Groups[3].Value.ToLowerInvariant();
            var digits = algorithm switch { "SHA1" => 40, "SHA256" => 64, _ => 128 };
            if (digest.Length != digits)
            {
                return OvfErrors.ManifestInvalid(i + 1, $"a {algorithm} digest has {digits} hex digits, not {digest.Length}.");
            }
            var file = m.Groups[2].Value;
            if (entries.Any(e => e.File == file))
            {
                return OvfErrors.ManifestInvalid(i + 1, $"'{file}' is listed twice.");
            }
            entries.Add(new ManifestEntry(algorithm, file, digest));
        }
        if (entries.Count == 0)
        {
            return OvfErrors.ManifestInvalid(1, "the manifest lists no file.");
        }
        return new OvfManifest(entries);
    }

    /// <summary>Checks every entry against the files' digests; a listed file that is absent fails too.</summary>
    public Error? Verify(IReadOnlyDictionary<string, FileDigests> files)
    {
        foreach (var entry in Entries)
        {
            if (!files.TryGetValue(entry.File, out var actual))
            {
                return OvfErrors.BadPackage($"The manifest lists '{entry.File}', which the package does not contain.");
            }
            var expected = entry.Algorithm switch { "SHA1" => actual.Sha1, "SHA256" => actual.Sha256, _ => actual.Sha512 };
            if (!CryptographicOperations.FixedTimeEquals(Convert.FromHexString(expected), Convert.FromHexString(entry.Digest)))
            {
                return OvfErrors.DigestMismatch(entry.File, entry.Algorithm);
            }
        }
        return null;
    }

    /// <summary>Digests of a whole stream, for a package unpacked on disk.</summary>
    public static async Task<FileDigests> DigestAsync(Stream stream, CancellationToken ct)
    {
        using var hashing = new DigestingCopy();
        await hashing.CopyAsync(stream, null, long.MaxValue, ct);
        return hashing.Result();
    }

    [GeneratedRegex(@"^(SHA1|SHA256|SHA512) ?\((.+)\)\s*=\s*([0-9A-Fa-f]+)\z", RegexOptions.CultureInvariant)]
    private static partial Regex Line();
}

/// <summary>Copies a stream (or just reads it) while computing its SHA-1, SHA-256 and SHA-512, up to a byte limit.</summary>
internal sealed class DigestingCopy : IDisposable
{
    private readonly IncrementalHash _sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly IncrementalHash _sha512 = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);

    /// <returns>The bytes copied, or -1 when the source holds more than <paramref name="limit"/>.</returns>
    public async Task<long> CopyAsync(Stream source, Stream? destination, long limit, CancellationToken ct)
    {
        var buffer = new byte[81920];
        long total = 0;
        int n;
        while ((n = await source.ReadAsync(buffer, ct)) > 0)
        {
            total += n;
            if (total > limit)
            {
                return -1;
            }
            _sha1.AppendData(buffer, 0, n);
            _sha256.AppendData(buffer, 0, n);
            _sha512.AppendData(buffer, 0, n);
            if (destination is not null)
            {
                await destination.WriteAsync(buffer.AsMemory(0, n), ct);
            }
        }
        return total;
    }

    public FileDigests Result() =>
        new(Convert.ToHexStringLower(_sha1.GetHashAndReset()), Convert.ToHexStringLower(_sha256.GetHashAndReset()), Convert.ToHexStringLower(_sha512.GetHashAndReset()));

    public void Dispose()
    {
        _sha1.Dispose();
        _sha256.Dispose();
        _sha512.Dispose();
    }
}
