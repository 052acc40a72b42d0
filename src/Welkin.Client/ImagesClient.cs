using System.Net;
using System.Net.Http.Headers;
using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>What a download wrote, and which part of the image it was.</summary>
/// <param name="BytesWritten">Bytes copied to the destination stream.</param>
/// <param name="IsPartial">True when the server answered 206 with a range of the image.</param>
/// <param name="From">First byte of the range written, for a partial answer.</param>
/// <param name="To">Last byte (inclusive) of the range written, for a partial answer.</param>
/// <param name="TotalLength">The full image size when the server said (Content-Range or Content-Length).</param>
public sealed record ImageDownload(long BytesWritten, bool IsPartial, long? From, long? To, long? TotalLength);

/// <summary>Virtual disk images (<c>/api/v1/images</c>).</summary>
public sealed class ImagesClient
{
    private const int BufferSize = Transfers.BufferSize;
    private readonly ApiConnection _api;

    internal ImagesClient(ApiConnection api) => _api = api;

    /// <summary>
    /// Uploads an image by streaming <paramref name="content"/> as the raw request body: nothing is
    /// buffered in memory, so images of any size fit. A seekable stream is sent from its current
    /// position with a Content-Length; any other stream is sent chunked.
    /// </summary>
    /// <param name="content">The image bytes; read to its end, not disposed.</param>
    /// <param name="name">The image's name.</param>
    /// <param name="description">An optional description.</param>
    /// <param name="sha256">
    /// The SHA-256 of the content (hex) when known: the server then refuses the upload if the bytes it
    /// received differ, and keeps nothing.
    /// </param>
    /// <param name="progress">Receives the number of bytes sent so far, after each chunk, on the sending thread.</param>
    /// <param name="ct">Cancels the upload.</param>
    public async Task<ImageView> UploadAsync(
        Stream content, string name, string? description = null, string? sha256 = null, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var request = new HttpRequestMessage(HttpMethod.Post, _api.Resolve("api/v1/images", ("name", name), ("description", description), ("sha256", sha256)))
        {
            Content = new ProgressStreamContent(content, progress),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        // Ask before sending the body, so a refused upload (no token, too large) does not cost the whole transfer.
        request.Headers.ExpectContinue = true;
        return await _api.ReadAsync<ImageView>(request, ct);
    }

    /// <summary>A page of images: the available ones, or the deleted ones with <paramref name="state"/>.</summary>
    public Task<Page<ImageView>> ListAsync(ImageState? state = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<ImageView>>(_api.Resolve("api/v1/images", ("state", state), ("after", after), ("limit", limit)), ct);

    /// <summary>One image's metadata: size, format, SHA-256.</summary>
    public Task<ImageView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<ImageView>(_api.Resolve(Path(id)), ct);

    /// <summary>Deletes an image and returns it as the server left it (state deleted).</summary>
    /// <param name="id">The image.</param>
    /// <param name="version">Fail unless the image is still at this row version.</param>
    /// <param name="ct">Cancels the request.</param>
    public Task<ImageView> DeleteAsync(string id, long? version = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<ImageView>(HttpMethod.Delete, _api.Resolve(Path(id), ("version", version)), null, ct);

    /// <summary>Sets how the image boots on a fabric of real machines (kernel, ramdisk, command line, ready marker); an empty one clears it.</summary>
    public Task<ImageView> SetBootAsync(string id, ImageBoot boot, long? version = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<ImageView>(HttpMethod.Put, _api.Resolve(Path(id) + "/boot", ("version", version)), boot, ct);

    /// <summary>
    /// Streams an image's content, or one byte range of it (RFC 9110 Range), into <paramref name="destination"/>.
    /// </summary>
    /// <param name="id">The image.</param>
    /// <param name="destination">Where the bytes go; not disposed.</param>
    /// <param name="range">A byte range such as <c>new RangeItemHeaderValue(0, 1023)</c>; null for the whole image.</param>
    /// <param name="progress">Receives the number of bytes written so far.</param>
    /// <param name="ct">Cancels the download.</param>
    public async Task<ImageDownload> DownloadAsync(string id, Stream destination, RangeItemHeaderValue? range = null, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var request = new HttpRequestMessage(HttpMethod.Get, _api.Resolve(Path(id) + "/content"));
        if (range is not null)
        {
            request.Headers.Range = new RangeHeaderValue { Ranges = { range } };
        }
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var written = await Transfers.CopyAsync(body, destination, progress, ct);
        var contentRange = response.Content.Headers.ContentRange;
        var partial = response.StatusCode == HttpStatusCode.PartialContent;
        return new ImageDownload(written, partial, contentRange?.From, contentRange?.To,
            partial ? contentRange?.Length : response.Content.Headers.ContentLength ?? written);
    }

    private static string Path(string id) => "api/v1/images/" + ApiConnection.Segment(id);

    /// <summary>Streams a request body from a caller's stream, reporting progress, without buffering it.</summary>
    private sealed class ProgressStreamContent(Stream source, IProgress<long>? progress) : HttpContent
    {
        private readonly long _start = source.CanSeek ? source.Position : 0;

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            if (source.CanSeek)
            {
                // The handler may send the body again (a redirect, a retried connection): start over.
                source.Position = _start;
            }
            var buffer = new byte[BufferSize];
            long sent = 0;
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                sent += read;
                progress?.Report(sent);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = source.CanSeek ? source.Length - _start : 0;
            return source.CanSeek;
        }
    }
}
