using System.Globalization;
using Dapper;
using Welkin.Contracts;
using Welkin.Core.Data;

namespace Welkin.Core.Audit;

/// <summary>
/// What the audit log is checked against besides itself: the checkpoints (null: not checked) with
/// the public key that signed them, and the signing key for the entries' seals (null: not checked).
/// </summary>
public sealed record AuditAnchors(AuditPublicKey? PublicKey, AuditKey? SealKey, IReadOnlyList<CheckpointLine>? Checkpoints)
{
    public static readonly AuditAnchors None = new(null, null, null);
}

/// <summary>
/// One pass over the audit log that reports every problem it finds (docs/security.md lists what
/// each finding relies on): rows below sequence 1, gaps, broken links, altered entries, entries
/// whose seal is missing or wrong, a head that disagrees with the log, and checkpoints the log no
/// longer matches or no longer reaches.
/// </summary>
internal sealed class AuditVerifier(AuditAnchors anchors)
{
    private const int BatchSize = 5000;

    private readonly List<AuditFinding> _findings = [];
    private readonly Dictionary<long, List<(long Number, AuditCheckpoint Checkpoint)>> _checkpoints = [];
    private readonly HashSet<long> _matched = [];
    private long? _forgedFrom;
    private long _forgedTo;

    public async Task<AuditVerification> VerifyAsync(Tx tx)
    {
        var head = await AuditLog.ReadHeadAsync(tx);
        if (head is null)
        {
            Add("head-missing", null, "The audit head row is missing: the log's last sequence number and hash were deleted.");
        }
        var below = await AuditLog.BelowOneAsync(tx);
        if (below.Count > 0)
        {
            Add("sequence-below-one", null, below.Count == 1
                ? Invariant($"1 entry with sequence number 0 or less is present (lowest {below.Lowest}): the log starts at 1, so it was written outside Welkin.")
                : Invariant($"{below.Count} entries with sequence number 0 or less are present (lowest {below.Lowest}): the log starts at 1, so they were written outside Welkin."));
        }
        var sealsFrom = LoadCheckpoints();

        var (count, last, lastHash) = (0L, 0L, AuditLog.GenesisHash);
        while (true)
        {
            var batch = await AuditLog.ReadAfterAsync(tx, last, BatchSize);
            foreach (var row in batch)
            {
                Check(row, last, lastHash, sealsFrom);
                (count, last, lastHash) = (count + 1, row.Seq, row.Hash);
            }
            if (batch.Count < BatchSize)
            {
                break;
            }
        }
        EndForgedRun();
        if (head is not null)
        {
            CheckHead(head, last, lastHash);
        }
        CheckUnreachedCheckpoints(last);
        return Result(count, head?.Hash ?? AuditLog.GenesisHash);
    }

    /// <summary>Keeps the checkpoints signed by the key; returns the entry up to which entries may lack a seal.</summary>
    private long LoadCheckpoints()
    {
        if (anchors.Checkpoints is null)
        {
            return 0;
        }
        var key = anchors.PublicKey ?? throw new InvalidOperationException("Checking checkpoints needs the public key.");
        foreach (var line in anchors.Checkpoints)
        {
            if (line.Checkpoint is not { } c)
            {
                Add("checkpoint-invalid", null, Invariant($"Checkpoint line {line.Number} is not a checkpoint: {line.Problem}."));
            }
            else if (c.KeyId != key.KeyId)
            {
                Add("checkpoint-invalid", null, Invariant($"Checkpoint {line.Number} names key {c.KeyId}, not the signing key {key.KeyId}."));
            }
            else if (!c.IsSignedBy(key))
            {
                Add("checkpoint-invalid", null, Invariant($"Checkpoint {line.Number}'s signature does not verify: the line was altered or not written by this server."));
            }
            else
            {
                (_checkpoints.TryGetValue(c.Seq, out var list) ? list : _checkpoints[c.Seq] = []).Add((line.Number, c));
            }
        }
        if (anchors.Checkpoints.Count == 0)
        {
            Add("checkpoints-missing", null, "There are no checkpoints: nothing outside the database vouches for the log (the server writes one at every start).");
        }
        // Entries written before the first checkpoint may predate sealing; every later one is sealed.
        return anchors.Checkpoints.Select(l => l.Checkpoint).OfType<AuditCheckpoint>().Select(c => (long?)c.Seq).FirstOrDefault() ?? 0;
    }

    private void Check(AuditLog.AuditRow row, long previous, string previousHash, long sealsFrom)
    {
        if (row.Seq != previous + 1)
        {
            Add("sequence-gap", previous + 1, row.Seq == previous + 2
                ? Invariant($"Sequence gap {previous}..{row.Seq}: entry {previous + 1} is missing.")
                : Invariant($"Sequence gap {previous}..{row.Seq}: entries {previous + 1} to {row.Seq - 1} are missing."));
        }
        else if (row.PrevHash != previousHash)
        {
            Add("link-broken", row.Seq, Invariant($"Entry {row.Seq} does not link to entry {previous}: entry {previous}'s hash is not the link entry {row.Seq} holds."));
        }
        if (AuditLog.ComputeHash(row) != row.Hash)
        {
            Add("entry-altered", row.Seq, Invariant($"Entry {row.Seq} was altered: its hash does not match its content (time, actor, account, action, target, outcome, detail or correlation id)."));
        }
        if (anchors.SealKey is { } key)
        {
            var sealed_ = row.Seal is null ? row.Seq <= sealsFrom : row.Seal == key.Seal(row.Hash);
            if (sealed_)
            {
                EndForgedRun();
            }
            else
            {
                _forgedFrom ??= row.Seq;
                _forgedTo = row.Seq;
            }
        }
        if (_checkpoints.TryGetValue(row.Seq, out var checkpoints))
        {
            _matched.Add(row.Seq);
            foreach (var (number, c) in checkpoints.Where(c => c.Checkpoint.Hash != row.Hash))
            {
                Add("checkpoint-mismatch", row.Seq, Invariant($"Checkpoint {number} ({c.At:yyyy-MM-dd HH:mm:ss}Z) signed entry {c.Seq} with hash {c.Hash}, but entry {row.Seq}'s hash is {row.Hash}: the log was rewritten."));
            }
        }
    }

    private void EndForgedRun()
    {
        if (_forgedFrom is not { } from)
        {
            return;
        }
        Add("entry-forged", from, from == _forgedTo
            ? Invariant($"Entry {from} was not written by this server: its seal is missing or does not verify.")
            : Invariant($"Entries {from} to {_forgedTo} were not written by this server: their seals are missing or do not verify."));
        _forgedFrom = null;
    }

    private void CheckHead(AuditLog.HeadRow head, long last, string lastHash)
    {
        if (last < head.Seq)
        {
            Add("head-ahead", last + 1, Invariant($"The log ends at entry {last} but its head records entry {head.Seq}: entries were removed."));
        }
        else if (last > head.Seq || lastHash != head.Hash)
        {
            Add("head-mismatch", head.Seq, Invariant($"The head records entry {head.Seq} with a hash the log does not end with: entries were added or rewritten outside the log."));
        }
    }

    private void CheckUnreachedCheckpoints(long last)
    {
        foreach (var (seq, list) in _checkpoints.Where(kv => kv.Key <= last && !_matched.Contains(kv.Key)).OrderBy(kv => kv.Key))
        {
            foreach (var (number, c) in list.Where(c => seq >= 1 || c.Checkpoint.Hash != AuditLog.GenesisHash))
            {
                Add("checkpoint-mismatch", Math.Max(seq, 1), Invariant($"Checkpoint {number} ({c.At:yyyy-MM-dd HH:mm:ss}Z) signed entry {seq}, which is not in the log."));
            }
        }
        // The latest checkpoint past the end says it all: the log lost at least up to that entry.
        var beyond = _checkpoints.Where(kv => kv.Key > last).SelectMany(kv => kv.Value).ToList();
        if (beyond.Count > 0)
        {
            var (number, b) = beyond.MaxBy(c => (c.Checkpoint.Seq, c.Number));
            Add("checkpoint-beyond-log", last + 1, Invariant($"The log ends at entry {last} but checkpoint {number} ({b.At:yyyy-MM-dd HH:mm:ss}Z) signed entry {b.Seq}: entries were removed."));
        }
    }

    private AuditVerification Result(long count, string headHash)
    {
        var first = _findings.Where(f => f.Seq >= 1).Select(f => f.Seq).Min();
        var problem = _findings.FirstOrDefault(f => f.Seq == first) ?? _findings.FirstOrDefault();
        var lastCheckpoint = _checkpoints.Count == 0 ? (long?)null : _checkpoints.Keys.Max();
        return new AuditVerification(_findings.Count == 0, first is { } f ? Math.Min(f - 1, count) : count, headHash, first, problem?.Detail)
        {
            Findings = _findings,
            Checkpoints = _checkpoints.Values.Sum(l => l.Count),
            LastCheckpointSeq = lastCheckpoint,
            SealsChecked = anchors.SealKey is not null,
        };
    }

    private void Add(string code, long? seq, string detail) => _findings.Add(new AuditFinding(code, seq, detail));

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
