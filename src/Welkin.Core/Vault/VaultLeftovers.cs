using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Core.Vault;

/// <summary>
/// Files a crash left behind: a write flushes a record's key file and blob before its row commits,
/// so a crash in between leaves files no row names. They were never visible; this removes those
/// older than <see cref="Age"/> (a write in progress is younger), once per process, from the sweep.
/// </summary>
internal static class VaultLeftovers
{
    public static readonly TimeSpan Age = TimeSpan.FromHours(1);

    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public static async Task<int> RemoveAsync(IDatabase db, VaultOptions options, TimeProvider clock, ILogger logger, CancellationToken ct)
    {
        if (!Directory.Exists(options.KeyDirectory))
        {
            return 0;
        }
        var cutoff = clock.GetUtcNow() - Age;
        var removed = 0;
        foreach (var dir in Directory.EnumerateDirectories(options.KeyDirectory))
        {
            var vaultId = Path.GetFileName(dir);
            var candidates = Directory.EnumerateFiles(dir, "*.key")
                .Select(f => Path.GetFileNameWithoutExtension(f))
                .Where(id => Ids.IsValid(id, Ids.VaultRecord) && TimeOf(id) < cutoff)
                .ToList();
            foreach (var batch in candidates.Chunk(500))
            {
                var known = await VaultStore.ExistingRecordIdsAsync(db, batch, ct);
                foreach (var id in batch.Where(id => !known.Contains(id)))
                {
                    VaultKeys.DestroyDataKey(options, vaultId, id);
                    RecordService.DeleteBlob(options, vaultId, id);
                    removed++;
                }
            }
        }
        if (removed > 0)
        {
            logger.LogWarning("Removed the files of {Count} vault records whose write never committed", removed);
        }
        return removed;
    }

    /// <summary>When an id was made: its first 10 base32 characters are the 48 bits of milliseconds (<see cref="Ids"/>).</summary>
    public static DateTimeOffset TimeOf(string id)
    {
        var body = id.AsSpan(id.IndexOf('_', StringComparison.Ordinal) + 1, 10);
        long ms = 0;
        foreach (var c in body)
        {
            ms = (ms << 5) | (long)Alphabet.IndexOf(c, StringComparison.Ordinal);
        }
        return DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }
}
