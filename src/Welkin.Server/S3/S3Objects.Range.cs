using System.Globalization;
using Welkin.Core.Vault;

namespace Welkin.Server.S3;

/// <summary>Range reads on GetObject and HeadObject (one byte range, RFC 9110 14.1.2, as S3 takes it).</summary>
public sealed partial class S3Objects
{
    /// <summary>
    /// The request's range within <paramref name="size"/> bytes: null for the whole object (no Range,
    /// or one S3 ignores: not a single well-formed byte range), or 416 InvalidRange when it starts past
    /// the end (a last byte past the end is the end, as RFC 9110 says).
    /// </summary>
    private static (ByteRange? Range, S3Error? Error) Range(HttpContext context, long size)
    {
        var header = context.Request.Headers.Range.ToString();
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return (null, null);
        }
        var spec = header[6..].Trim();
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return (null, null);
        }
        var (firstText, lastText) = (spec[..dash], spec[(dash + 1)..]);
        long? first = firstText.Length == 0 ? null : long.TryParse(firstText, NumberStyles.None, CultureInfo.InvariantCulture, out var f) ? f : -1;
        long? last = lastText.Length == 0 ? null : long.TryParse(lastText, NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : -1;
        if (first == -1 || last == -1 || (first is null && last is null) || (first is { } a && last is { } b && b < a))
        {
            return (null, null);
        }
        if (first is null)
        {
            // A suffix: the last N bytes, all of them when N passes the size.
            var suffix = Math.Min(last!.Value, size);
            return suffix == 0 ? (null, Unsatisfiable(context, header, size)) : (new ByteRange(size - suffix, suffix), null);
        }
        if (first.Value >= size)
        {
            return (null, Unsatisfiable(context, header, size));
        }
        var end = Math.Min(last ?? size - 1, size - 1);
        return (new ByteRange(first.Value, end - first.Value + 1), null);
    }

    private static S3Error Unsatisfiable(HttpContext context, string header, long size)
    {
        context.Response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes */{size}");
        return new S3Error("InvalidRange", 416, "The requested range is not satisfiable")
        {
            Extra = [("RangeRequested", header), ("ActualObjectSize", size.ToString(CultureInfo.InvariantCulture))],
        };
    }

    private static void WriteRange(HttpContext context, ByteRange? range, long size)
    {
        if (range is not { } part)
        {
            return;
        }
        context.Response.StatusCode = StatusCodes.Status206PartialContent;
        context.Response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {part.Offset}-{part.Last}/{size}");
        context.Response.ContentLength = part.Length;
    }
}
