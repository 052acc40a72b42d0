using System.Formats.Tar;
using System.Globalization;
using System.Text;
using Welkin.Core.Common;

namespace Welkin.Core.Ovf;

public sealed record OvaLimits(int MaxEntries = 64, long MaxEntryBytes = 256L << 30, long MaxTotalBytes = 512L << 30);

public sealed record OvaEntry(string Name, long Size, FileDigests Digests);

/// <param name="Descriptor">The .ovf entry's name.</param>
public sealed record OvaPackage(string Descriptor, OvfEnvelope Envelope, OvfManifest? Manifest, IReadOnlyList<OvaEntry> Entries);

/// <summary>
/// Reads an OVA (OVF 2.0 5.3: a tar whose first entry is the .ovf descriptor, then the
/// manifest and certificate, then the files). Every entry is checked before a byte of it is
/// written: plain files with flat, relative names only, within the limits. Digests are computed
/// while streaming, so the package is read once and verified against its manifest at the end.
/// </summary>
public static class OvaReader
{
    /// <param name="extractTo">
    /// A directory to write the files into, or null to only read and verify. When the package is
    /// refused, the files written so far are deleted again.
    /// </param>
    public static async Task<Result<OvaPackage>> ReadAsync(Stream ova, string? extractTo, OvaLimits? limits = null, CancellationToken ct = default)
    {
        var written = new List<string>();
        var result = await ReadAsync(ova, extractTo, limits ?? new OvaLimits(), written, ct);
        if (!result.IsSuccess)
        {
            foreach (var path in written)
            {
                File.Delete(path);
            }
        }
        return result;
    }

    private static async Task<Result<OvaPackage>> ReadAsync(Stream ova, string? extractTo, OvaLimits limits, List<string> written, CancellationToken ct)
    {
        var entries = new List<OvaEntry>();
        string? descriptorName = null;
        OvfEnvelope? envelope = null;
        OvfManifest? manifest = null;
        long total = 0;
        await using var tar = new TarReader(ova, leaveOpen: true);
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = await tar.GetNextEntryAsync(copyData: false, ct);
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
            {
                return OvfErrors.BadPackage("The OVA is not a valid tar archive.");
            }
            if (entry is null)
            {
                break;
            }
            if (entry.EntryType == TarEntryType.GlobalExtendedAttributes)
            {
                continue;
            }
            var admitted = Admit(entry, entries, limits);
            if (!admitted.IsSuccess)
            {
                return admitted.Error!;
            }
            var (isDescriptor, isManifest, limit) = admitted.Value;
            total += entry.Length;
            if (total > limits.MaxTotalBytes)
            {
                return OvfErrors.TooLarge("The OVA's content", limits.MaxTotalBytes);
            }
            var keep = isDescriptor || isManifest ? new MemoryStream() : null;
            var (copied, digests) = await CopyAsync(entry, extractTo, keep, limit, written, ct);
            if (copied < 0)
            {
                return OvfErrors.TooLarge($"The OVA entry '{entry.Name}'", limit);
            }
            entries.Add(new OvaEntry(entry.Name, copied, digests));

            if (isDescriptor)
            {
                descriptorName = entry.Name;
                var read = OvfReader.Read(keep!.ToArray());
                if (!read.IsSuccess)
                {
                    return read.Error!;
                }
                envelope = read.Value;
            }
            else if (isManifest)
            {
                if (manifest is not null)
                {
                    return OvfErrors.BadPackage("The OVA holds more than one manifest.");
                }
                var parsed = OvfManifest.Parse(Encoding.UTF8.GetString(keep!.ToArray()));
                if (!parsed.IsSuccess)
                {
                    return parsed.Error!;
                }
                manifest = parsed.Value;
            }
        }
        if (envelope is null || descriptorName is null)
        {
            return OvfErrors.BadPackage("The OVA is empty: it holds no .ovf descriptor.");
        }
        var joined = await JoinChunksAsync(envelope, entries, extractTo, written, ct);
        if (!joined.IsSuccess)
        {
            return joined.Error!;
        }
        return CheckContents(descriptorName, envelope, manifest, entries, joined.Value) is { } refused ? refused : new OvaPackage(descriptorName, envelope, manifest, entries);
    }

    /// <summary>
    /// Joins the chunks of every file with ovf:chunkSize (OVF 2.0 5.4: HREF.000000000, HREF.000000001, …)
    /// in order into HREF under <paramref name="extractTo"/>, and answers each joined file's length.
    /// Every chunk but the last holds exactly chunkSize bytes; a missing chunk is named.
    /// </summary>
    internal static async Task<Result<Dictionary<string, long>>> JoinChunksAsync(
        OvfEnvelope envelope, IReadOnlyList<OvaEntry> entries, string? extractTo, List<string> written, CancellationToken ct)
    {
        var joined = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var file in envelope.Files.Where(f => f.ChunkSize is not null).DistinctBy(f => f.Href))
        {
            var chunkSize = file.ChunkSize!.Value;
            if (entries.Any(e => e.Name == file.Href))
            {
                return OvfErrors.BadPackage($"File '{file.Href}' has ovf:chunkSize, so it comes as '{ChunkName(file.Href, 0)}', … and not whole.");
            }
            var indexes = entries.Select(e => ChunkIndex(file.Href, e.Name)).OfType<int>().ToHashSet();
            var count = file.Size is { } size ? (int)Math.Min(int.MaxValue, Math.Max(1, (size + chunkSize - 1) / chunkSize)) : indexes.Count == 0 ? 1 : indexes.Max() + 1;
            for (var i = 0; i < count; i++)
            {
                if (!indexes.Contains(i))
                {
                    return OvfErrors.BadPackage($"Chunk '{ChunkName(file.Href, i)}' of file '{file.Href}' ({count} chunks of {chunkSize} bytes) is missing from the package.");
                }
            }
            if (indexes.FirstOrDefault(i => i >= count) is var extra && extra >= count)
            {
                return OvfErrors.BadPackage($"Chunk '{ChunkName(file.Href, extra)}' is more than file '{file.Href}' of {file.Size} bytes needs ({count} chunks of {chunkSize} bytes).");
            }
            var chunks = Enumerable.Range(0, count).Select(i => entries.First(e => e.Name == ChunkName(file.Href, i))).ToList();
            if (chunks.SkipLast(1).FirstOrDefault(c => c.Size != chunkSize) is { } shortChunk)
            {
                return OvfErrors.BadPackage($"Chunk '{shortChunk.Name}' holds {shortChunk.Size} bytes; every chunk but the last holds ovf:chunkSize, {chunkSize}.");
            }
            if (chunks[^1].Size is var last && (last > chunkSize || (last == 0 && count > 1)))
            {
                return OvfErrors.BadPackage($"Chunk '{chunks[^1].Name}' holds {last} bytes; the last chunk holds 1 to ovf:chunkSize, {chunkSize}, bytes.");
            }
            joined[file.Href] = chunks.Sum(c => c.Size);
            if (extractTo is null)
            {
                continue;
            }
            var target = Path.Combine(extractTo, file.Href);
            await using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
            {
                written.Add(target);
                foreach (var chunk in chunks)
                {
                    var path = Path.Combine(extractTo, chunk.Name);
                    await using (var input = File.OpenRead(path))
                    {
                        await input.CopyToAsync(output, ct);
                    }
                    File.Delete(path);
                    written.Remove(path);
                }
            }
        }
        return joined;
    }

    /// <summary>The name of chunk <paramref name="index"/> of a file: its href and a nine-digit index.</summary>
    public static string ChunkName(string href, int index) => $"{href}.{index.ToString("D9", CultureInfo.InvariantCulture)}";

    private static int? ChunkIndex(string href, string name) =>
        name.Length == href.Length + 10 && name.StartsWith(href, StringComparison.Ordinal) && name[href.Length] == '.'
            && int.TryParse(name.AsSpan(href.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : null;

    /// <summary>
    /// Whether the next entry may be read, before any of its bytes are: a plain file with a flat
    /// name, not one too many, named once, the descriptor first, within its size limit. Returns
    /// what it is and the limit its copy keeps to.
    /// </summary>
    private static Result<(bool IsDescriptor, bool IsManifest, long Limit)> Admit(TarEntry entry, List<OvaEntry> entries, OvaLimits limits)
    {
        if (Unsafe(entry) is { } why)
        {
            return OvfErrors.UnsafeEntry(entry.Name, why);
        }
        if (entries.Count >= limits.MaxEntries)
        {
            return OvfErrors.BadPackage($"The OVA holds more than {limits.MaxEntries} entries.");
        }
        if (entries.Any(e => e.Name == entry.Name))
        {
            return OvfErrors.UnsafeEntry(entry.Name, "the name occurs twice");
        }
        var isDescriptor = entries.Count == 0;
        if (isDescriptor && !entry.Name.EndsWith(".ovf", StringComparison.OrdinalIgnoreCase))
        {
            return OvfErrors.BadPackage($"The first entry of an OVA must be the .ovf descriptor, not '{entry.Name}'.");
        }
        var isManifest = entry.Name.EndsWith(".mf", StringComparison.OrdinalIgnoreCase);
        var limit = isDescriptor ? OvfReader.DefaultMaxBytes : isManifest ? OvfManifest.MaxBytes : limits.MaxEntryBytes;
        if (entry.Length > limit)
        {
            return OvfErrors.TooLarge($"The OVA entry '{entry.Name}'", limit);
        }
        return (isDescriptor, isManifest, limit);
    }

    /// <summary>
    /// Copies an entry's data, hashing it on the way, into <paramref name="keep"/> (the descriptor
    /// and the manifest, which are parsed) and into its file under <paramref name="extractTo"/>.
    /// The copied length is negative when the data passed <paramref name="limit"/>.
    /// </summary>
    private static async Task<(long Copied, FileDigests Digests)> CopyAsync(
        TarEntry entry, string? extractTo, MemoryStream? keep, long limit, List<string> written, CancellationToken ct)
    {
        FileStream? file = null;
        if (extractTo is not null)
        {
            Directory.CreateDirectory(extractTo);
            var path = Path.Combine(extractTo, entry.Name);
            file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            written.Add(path);
        }
        using var hashing = new DigestingCopy();
        long copied;
        await using (file)
        {
            var source = entry.DataStream ?? Stream.Null;
            copied = await hashing.CopyAsync(source, (Stream?)keep ?? file, limit, ct);
            if (keep is not null && file is not null)
            {
                keep.Position = 0;
                await keep.CopyToAsync(file, ct);
            }
        }
        return (copied, hashing.Result());
    }

    /// <summary>Every file the envelope references is in the OVA with its stated size, and the manifest (if any) covers and matches every entry.</summary>
    private static Error? CheckContents(string descriptorName, OvfEnvelope envelope, OvfManifest? manifest, List<OvaEntry> entries, Dictionary<string, long> joined)
    {
        foreach (var reference in envelope.Files)
        {
            long? present = joined.TryGetValue(reference.Href, out var length) ? length : entries.FirstOrDefault(e => e.Name == reference.Href)?.Size;
            if (present is null)
            {
                return OvfErrors.BadPackage($"The envelope references file '{reference.Href}' ({reference.Id}), which the OVA does not contain.");
            }
            // Chunks are joined first; ovf:size is the whole file's.
            if (reference.Size is { } size && reference.Compression is null && size != present)
            {
                return OvfErrors.BadPackage($"File '{reference.Href}' is {present} bytes; the envelope says {size}.");
            }
        }
        if (manifest is null)
        {
            return null;
        }
        // Everything but the manifest and a certificate must be covered, or a file could be slipped in unsigned.
        // ovftool 4.0 leaves the descriptor's own line out of unsigned manifests: without a certificate
        // the manifest guards the disks against corruption, not the package against a forger, and the
        // descriptor is read and checked in full anyway. A signed package must cover its descriptor.
        var signed = entries.Any(e => e.Name.EndsWith(".cert", StringComparison.OrdinalIgnoreCase));
        var uncovered = entries.FirstOrDefault(e => !e.Name.EndsWith(".mf", StringComparison.OrdinalIgnoreCase)
            && !e.Name.EndsWith(".cert", StringComparison.OrdinalIgnoreCase)
            && (signed || e.Name != descriptorName)
            && manifest.Entries.All(m => m.File != e.Name));
        if (uncovered is not null)
        {
            return OvfErrors.BadPackage($"The OVA entry '{uncovered.Name}' is not listed in the manifest.");
        }
        return manifest.Verify(entries.ToDictionary(e => e.Name, e => e.Digests, StringComparer.Ordinal));
    }

    private static string? Unsafe(TarEntry entry)
    {
        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
        {
            return entry.EntryType is TarEntryType.SymbolicLink or TarEntryType.HardLink
                ? "links are not allowed in an OVA"
                : $"only plain files are allowed in an OVA, not {entry.EntryType}";
        }
        var name = entry.Name;
        if (name.Length is 0 or > 255)
        {
            return "the name must be 1-255 characters";
        }
        // OVF 2.0 5.3: files sit at the top of the archive; refusing separators rules out traversal entirely.
        if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) || name is "." or ".." || name.Contains("..", StringComparison.Ordinal))
        {
            return "names must be plain file names, without directories, '..' or absolute paths";
        }
        if (name.Any(char.IsControl) || name.Contains(':', StringComparison.Ordinal))
        {
            return "the name contains a control character or ':'";
        }
        return null;
    }
}
