using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>How a resumable upload sends its bytes and how hard it tries after a failed chunk.</summary>
/// <param name="ChunkBytes">Bytes per PUT; a cut transfer resends at most what the server did not keep of one chunk.</param>
/// <param name="MaxAttempts">Failed chunks in a row (transport errors, the server busy) before the upload gives up.</param>
/// <param name="RetryDelay">Wait before the first retry; doubled after each further failure.</param>
public sealed record UploadSettings(int ChunkBytes = 8 * 1024 * 1024, int MaxAttempts = 5, TimeSpan? RetryDelay = null);

/// <summary>
/// Resumable, digest-verified uploads (<c>/api/v1/uploads</c>): open one with the content's size and
/// SHA-256, send chunks with Content-Range at the server's offset, ask the offset after an
/// interruption and continue from there.
/// </summary>
public sealed class UploadsClient
{
    private readonly ApiConnection _api;

    internal UploadsClient(ApiConnection api) => _api = api;

    /// <summary>Opens an upload of <paramref name="sizeBytes"/> bytes whose SHA-256 (hex) is <paramref name="sha256"/>.</summary>
    public Task<UploadView> CreateAsync(long sizeBytes, string sha256, CancellationToken ct = default) =>
        _api.SendJsonAsync<UploadView>(HttpMethod.Post, _api.Resolve("api/v1/uploads"), new CreateUploadRequest(sizeBytes, sha256), ct);

    /// <summary>Opens an upload under an Idempotency-Key: a sender that lost the answer gets the same upload again.</summary>
    public Task<UploadView> CreateAsync(long sizeBytes, string sha256, string idempotencyKey, CancellationToken ct = default) =>
        _api.SendJsonAsync<UploadView>(HttpMethod.Post, _api.Resolve("api/v1/uploads"), new CreateUploadRequest(sizeBytes, sha256), ct, idempotencyKey);

    /// <summary>The upload as the server holds it: <see cref="UploadView.ReceivedBytes"/> is where the next chunk starts.</summary>
    public Task<UploadView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<UploadView>(_api.Resolve(Path(id)), ct);

    /// <summary>The account's open and complete uploads.</summary>
    public Task<Page<UploadView>> ListAsync(string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<UploadView>>(_api.Resolve("api/v1/uploads", ("after", after), ("limit", limit)), ct);

    /// <summary>Deletes the upload and its bytes.</summary>
    public Task<UploadView> DeleteAsync(string id, CancellationToken ct = default) =>
        _api.SendJsonAsync<UploadView>(HttpMethod.Delete, _api.Resolve(Path(id)), null, ct);

    /// <summary>
    /// Sends <paramref name="count"/> bytes of <paramref name="content"/> (from its current position) as the
    /// chunk starting at byte <paramref name="first"/> of an upload of <paramref name="sizeBytes"/> bytes.
    /// </summary>
    public async Task<UploadView> AppendAsync(string id, Stream content, long first, long count, long sizeBytes, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var request = new HttpRequestMessage(HttpMethod.Put, _api.Resolve(Path(id)))
        {
            Content = new ChunkContent(content, count, first, progress),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Content.Headers.ContentRange = new ContentRangeHeaderValue(first, first + count - 1, sizeBytes);
        return await _api.ReadAsync<UploadView>(request, ct);
    }

    /// <summary>
    /// Uploads a file, resuming an interrupted transfer: after a failed chunk it asks the server's
    /// offset and continues from there, so no byte the server kept is sent again.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="resumeId">An upload opened earlier for this file, to continue; null opens a new one.</param>
    /// <param name="progress">Receives the bytes the server has acknowledged or is receiving, as they go.</param>
    /// <param name="settings">Chunk size and retries.</param>
    /// <param name="ct">Cancels the upload (the server keeps what it received, until the upload expires).</param>
    public async Task<UploadView> UploadFileAsync(string path, string? resumeId = null, IProgress<long>? progress = null, UploadSettings? settings = null, CancellationToken ct = default)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, Transfers.BufferSize, FileOptions.Asynchronous);
        return await UploadAsync(file, resumeId, progress, settings, ct);
    }

    /// <summary>
    /// Uploads <paramref name="content"/> (seekable; its SHA-256 is computed first) in chunks,
    /// resuming after interruptions as <see cref="UploadFileAsync"/> does. Returns the complete upload.
    /// </summary>
    public async Task<UploadView> UploadAsync(Stream content, string? resumeId = null, IProgress<long>? progress = null, UploadSettings? settings = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanSeek)
        {
            throw new ArgumentException("A resumable upload reads its content again from any offset: the stream must be seekable.", nameof(content));
        }
        settings ??= new UploadSettings();
        var size = content.Length;
        content.Position = 0;
        var sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(content, ct));
        var upload = resumeId is null ? await CreateAsync(size, sha256, ct) : await GetAsync(resumeId, ct);
        if (upload.SizeBytes != size || upload.Sha256 != sha256)
        {
            throw new InvalidOperationException($"Upload '{upload.Id}' was opened for other content ({upload.SizeBytes} bytes, SHA-256 {upload.Sha256}).");
        }
        var failures = 0;
        var delay = settings.RetryDelay ?? TimeSpan.FromMilliseconds(200);
        while (upload.State != UploadState.Complete)
        {
            var first = upload.ReceivedBytes;
            var count = Math.Min(settings.ChunkBytes, size - first);
            content.Position = first;
            try
            {
                var chunkProgress = progress is null ? null : new Progress<long>(sent => progress.Report(first + sent));
                upload = await AppendAsync(upload.Id, content, first, count, size, chunkProgress, ct);
                failures = 0;
                progress?.Report(upload.ReceivedBytes);
                continue;
            }
            catch (WelkinApiException e) when (e.Problem.Code is "offset-mismatch" or "upload-busy")
            {
                // The server kept more (or less) of a cut chunk than this side knows, or is still
                // writing it: its offset decides where to go on.
            }
            catch (Exception e) when (!ct.IsCancellationRequested && e is HttpRequestException or IOException or TaskCanceledException)
            {
            }
            if (++failures >= settings.MaxAttempts)
            {
                throw new WelkinProtocolException($"Upload '{upload.Id}' failed {failures} times in a row at byte {upload.ReceivedBytes}; resume it later with its id.");
            }
            await Task.Delay(delay, ct);
            delay *= 2;
            upload = await GetAsync(upload.Id, ct);
        }
        return upload;
    }

    private static string Path(string id) => "api/v1/uploads/" + ApiConnection.Segment(id);

    /// <summary>A chunk of a seekable stream: <paramref name="count"/> bytes from its position when sent.</summary>
    private sealed class ChunkContent(Stream source, long count, long first, IProgress<long>? progress) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            // The handler may send the body again (a retried connection): start over.
            source.Position = first;
            var buffer = new byte[Transfers.BufferSize];
            long sent = 0;
            while (sent < count)
            {
                var read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count - sent)), cancellationToken);
                if (read == 0)
                {
                    throw new EndOfStreamException($"The content ended {count - sent} bytes before the chunk did.");
                }
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                sent += read;
                progress?.Report(sent);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = count;
            return true;
        }
    }
}

/// <summary>Images of the account (<c>/api/v1/account-images</c>), made from complete uploads; a provision names one with <see cref="VirtualSystemChoice.ImageId"/>.</summary>
public sealed class AccountImagesClient
{
    private readonly ApiConnection _api;

    internal AccountImagesClient(ApiConnection api) => _api = api;

    /// <summary>Makes an image of the account from a complete upload (an OVA with one disk, or a raw, qcow2 or vmdk disk); the upload is used up.</summary>
    public Task<AccountImageView> CreateAsync(string uploadId, string name, string? description = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<AccountImageView>(HttpMethod.Post, _api.Resolve("api/v1/account-images"), new CreateAccountImageRequest(uploadId, name, description), ct);

    /// <summary>Makes an image under an Idempotency-Key: a sender that lost the answer gets the same image, not a refusal of the used-up upload.</summary>
    public Task<AccountImageView> CreateAsync(string uploadId, string name, string? description, string idempotencyKey, CancellationToken ct = default) =>
        _api.SendJsonAsync<AccountImageView>(HttpMethod.Post, _api.Resolve("api/v1/account-images"), new CreateAccountImageRequest(uploadId, name, description), ct, idempotencyKey);

    /// <summary>One of the account's images.</summary>
    public Task<AccountImageView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<AccountImageView>(_api.Resolve(Path(id)), ct);

    /// <summary>The account's available images.</summary>
    public Task<Page<AccountImageView>> ListAsync(string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<AccountImageView>>(_api.Resolve("api/v1/account-images", ("after", after), ("limit", limit)), ct);

    /// <summary>Deletes one of the account's images; machines made from it keep their disks.</summary>
    public Task<AccountImageView> DeleteAsync(string id, CancellationToken ct = default) =>
        _api.SendJsonAsync<AccountImageView>(HttpMethod.Delete, _api.Resolve(Path(id)), null, ct);

    private static string Path(string id) => "api/v1/account-images/" + ApiConnection.Segment(id);
}
