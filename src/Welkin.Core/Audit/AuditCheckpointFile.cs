using System.Globalization;
using System.Text;
using System.Text.Json;
using Welkin.Contracts;

namespace Welkin.Core.Audit;

/// <summary>A signed statement that entry <see cref="Seq"/> of the audit log had hash <see cref="Hash"/> at <see cref="At"/>.</summary>
public sealed record AuditCheckpoint(long Seq, string Hash, DateTimeOffset At, string KeyId, string Signature)
{
    public static AuditCheckpoint Sign(AuditKey key, long seq, string hash, DateTimeOffset at)
    {
        // Millisecond precision, so the time written to the file is exactly the time signed.
        at = DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());
        return new AuditCheckpoint(seq, hash, at, key.KeyId, Convert.ToBase64String(key.Sign(Statement(seq, hash, at, key.KeyId))));
    }

    public bool IsSignedBy(AuditPublicKey key)
    {
        if (KeyId != key.KeyId)
        {
            return false;
        }
        var signature = new byte[Signature.Length];
        return Convert.TryFromBase64String(Signature, signature, out var length)
            && key.Verify(Statement(Seq, Hash, At, KeyId), signature[..length]);
    }

    public AuditCheckpointView ToView(long number) => new(number, Seq, Hash, At, KeyId, Signature);

    private static byte[] Statement(long seq, string hash, DateTimeOffset at, string keyId) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"welkin-audit-checkpoint/1\n{seq}\n{hash}\n{at.ToUnixTimeMilliseconds()}\n{keyId}\n"));
}

/// <summary>One line of a checkpoint file: its number (1-based) and the checkpoint, or why the line is not one.</summary>
public sealed record CheckpointLine(long Number, AuditCheckpoint? Checkpoint, string? Problem);

/// <summary>
/// The checkpoint file: one JSON checkpoint per line, only ever appended to (and flushed to disk
/// before the append returns). It lives outside the database on purpose: whoever can rewrite the
/// database cannot rewrite what it vouches for.
/// </summary>
public sealed class AuditCheckpointFile(string path)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string Path { get; } = path;

    public void Append(AuditCheckpoint checkpoint)
    {
        // A line cut short by a crash mid-append must not swallow the next one.
        var separator = EndsInsideALine() ? "\n" : "";
        var line = Encoding.UTF8.GetBytes(separator + JsonSerializer.Serialize(checkpoint, Json) + "\n");
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }
        using var stream = new FileStream(Path, options);
        stream.Write(line);
        stream.Flush(flushToDisk: true);
    }

    private bool EndsInsideALine()
    {
        if (!File.Exists(Path))
        {
            return false;
        }
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (stream.Length == 0)
        {
            return false;
        }
        stream.Seek(-1, SeekOrigin.End);
        return stream.ReadByte() != '\n';
    }

    /// <summary>Every line, in file order; an absent file has none.</summary>
    public IReadOnlyList<CheckpointLine> ReadAll()
    {
        if (!File.Exists(Path))
        {
            return [];
        }
        var lines = new List<CheckpointLine>();
        var number = 0L;
        foreach (var text in File.ReadLines(Path))
        {
            number++;
            lines.Add(Parse(number, text));
        }
        return lines;
    }

    private static CheckpointLine Parse(long number, string text)
    {
        try
        {
            var checkpoint = JsonSerializer.Deserialize<AuditCheckpoint>(text, Json);
            if (checkpoint is { Hash: not null, KeyId: not null, Signature: not null })
            {
                return new CheckpointLine(number, checkpoint, null);
            }
        }
        catch (JsonException)
        {
        }
        return new CheckpointLine(number, null, "the line is not a checkpoint");
    }
}
