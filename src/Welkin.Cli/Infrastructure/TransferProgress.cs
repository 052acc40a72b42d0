using System.Security.Cryptography;

namespace Welkin.Cli.Infrastructure;

/// <summary>
/// Progress of an upload or download on standard error: one redrawn line on a terminal, a line per
/// tenth otherwise (so logs of scripted runs stay short).
/// </summary>
internal sealed class TransferProgress(TextWriter err, bool terminal, string label, long total) : IProgress<long>
{
    /// <summary>Transfers smaller than this finish too fast to need progress.</summary>
    public const long Threshold = 4L * 1024 * 1024;

    private int _lastShown = -1;

    public void Report(long value)
    {
        var percent = total <= 0 ? 100 : (int)Math.Min(100, value * 100 / total);
        var step = terminal ? percent : percent / 10 * 10;
        if (step == _lastShown)
        {
            return;
        }
        _lastShown = step;
        var text = $"{label}: {percent,3}% ({Fmt.Bytes(value)} of {Fmt.Bytes(total)})";
        if (terminal)
        {
            err.Write("\r" + text + (percent == 100 ? Environment.NewLine : ""));
        }
        else
        {
            err.WriteLine(text);
        }
    }
}

/// <summary>A write-only stream that hashes what passes through it to the inner stream.</summary>
internal sealed class HashingStream(Stream inner) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public string HexDigest() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    public override void Write(byte[] buffer, int offset, int count)
    {
        _hash.AppendData(buffer, offset, count);
        inner.Write(buffer, offset, count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _hash.AppendData(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }
}
