namespace Welkin.Client;

/// <summary>Streaming a response body to a caller's stream in constant memory, with progress.</summary>
internal static class Transfers
{
    public const int BufferSize = 81920;

    /// <summary>Copies <paramref name="body"/> to <paramref name="destination"/>, reporting the bytes written so far after each chunk; returns their total.</summary>
    public static async Task<long> CopyAsync(Stream body, Stream destination, IProgress<long>? progress, CancellationToken ct)
    {
        var buffer = new byte[BufferSize];
        long written = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, ct)) > 0)
        {
            await destination.WriteAsync(buffer.AsMemory(0, read), ct);
            written += read;
            progress?.Report(written);
        }
        return written;
    }
}
