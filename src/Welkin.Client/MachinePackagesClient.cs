using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>How a resumable download fetches its bytes and how hard it tries after a cut.</summary>
/// <param name="CheckpointBytes">Bytes received between two checkpoints: the file is flushed to disk and the checkpoint told its length.</param>
/// <param name="MaxAttempts">Failed requests in a row (transport errors, a cut body that brought nothing) before the download gives up.</param>
/// <param name="RetryDelay">Wait before the first retry; doubled after each further failure.</param>
public sealed record DownloadSettings(int CheckpointBytes = 8 * 1024 * 1024, int MaxAttempts = 5, TimeSpan? RetryDelay = null);

/// <summary>
/// A machine's package (<c>/api/v1/machines/{id}/package</c>): its OVA written once by the cloud and kept, so
/// that it can be downloaded in ranges, resumed after a cut and checked against its SHA-256.
/// </summary>
public sealed class MachinePackagesClient
{
    private readonly ApiConnection _api;

    internal MachinePackagesClient(ApiConnection api) => _api = api;

    /// <summary>
    /// The machine's package as it is now: the kept one while the machine has not changed since it was written,
    /// else a new one (exported now: a machine whose disk the cloud copies must be stopped).
    /// </summary>
    public Task<MachinePackageView> CreateAsync(string machineId, CancellationToken ct = default) =>
        _api.SendJsonAsync<MachinePackageView>(HttpMethod.Post, _api.Resolve(Path(machineId)), null, ct);

    /// <summary>The machine's kept package.</summary>
    public Task<MachinePackageView> GetAsync(string machineId, CancellationToken ct = default) =>
        _api.GetAsync<MachinePackageView>(_api.Resolve(Path(machineId)), ct);

    /// <summary>Deletes the machine's kept package.</summary>
    public Task<MachinePackageView> DeleteAsync(string machineId, CancellationToken ct = default) =>
        _api.SendJsonAsync<MachinePackageView>(HttpMethod.Delete, _api.Resolve(Path(machineId)), null, ct);

    /// <summary>
    /// Downloads <paramref name="package"/> into the file at <paramref name="path"/>, resuming: bytes already in the
    /// file are kept and only the rest is asked for (<c>Range</c> with <c>If-Range</c> naming the package's digest, so a
    /// package that changed meanwhile comes whole and replaces them). After a cut it asks again from what arrived. The
    /// complete file's SHA-256 must be the package's; otherwise the file is deleted and <see cref="WelkinProtocolException"/> thrown.
    /// </summary>
    /// <param name="package">The package as the cloud described it (<see cref="CreateAsync"/>, <see cref="GetAsync"/>).</param>
    /// <param name="path">The file to download into; bytes already in it are taken as the package's first.</param>
    /// <param name="checkpoint">Told the file's length each time it is flushed to disk: bytes up to there survive a crash.</param>
    /// <param name="progress">Receives the bytes in the file as they arrive.</param>
    /// <param name="settings">Checkpoints and retries.</param>
    /// <param name="ct">Cancels the download (the file keeps what arrived).</param>
    public async Task<MachinePackageView> DownloadAsync(
        MachinePackageView package, string path, Func<long, CancellationToken, Task>? checkpoint = null, IProgress<long>? progress = null,
        DownloadSettings? settings = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(package);
        settings ??= new DownloadSettings();
        await using (var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, Transfers.BufferSize, FileOptions.Asynchronous))
        {
            if (file.Length > package.SizeBytes)
            {
                file.SetLength(0);
            }
            var failures = 0;
            var delay = settings.RetryDelay ?? TimeSpan.FromMilliseconds(200);
            while (file.Length < package.SizeBytes)
            {
                var before = file.Length;
                try
                {
                    await FetchAsync(package, file, checkpoint, progress, settings, ct);
                }
                catch (Exception e) when (!ct.IsCancellationRequested && e is HttpRequestException or IOException or TaskCanceledException)
                {
                }
                if (file.Length >= package.SizeBytes)
                {
                    break;
                }
                failures = file.Length > before ? 1 : failures + 1;
                if (failures >= settings.MaxAttempts)
                {
                    throw new WelkinProtocolException(
                        $"The package of machine '{package.MachineId}' failed {failures} times in a row at byte {file.Length} of {package.SizeBytes}; resume it later.");
                }
                await Task.Delay(delay, ct);
                delay = file.Length > before ? settings.RetryDelay ?? TimeSpan.FromMilliseconds(200) : delay * 2;
            }
            file.Flush(flushToDisk: true);
            file.Position = 0;
            var sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
            if (sha256 == package.Sha256 && file.Length == package.SizeBytes)
            {
                if (checkpoint is not null)
                {
                    await checkpoint(file.Length, ct);
                }
                return package;
            }
        }
        File.Delete(path);
        throw new WelkinProtocolException($"The package of machine '{package.MachineId}' arrived with another SHA-256 than {package.Sha256}; the file was deleted.");
    }

    /// <summary>One request for what the file lacks; appends what arrives until the body ends or is cut.</summary>
    private async Task FetchAsync(
        MachinePackageView package, FileStream file, Func<long, CancellationToken, Task>? checkpoint, IProgress<long>? progress, DownloadSettings settings, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _api.Resolve(Path(package.MachineId) + "/content"));
        var tag = new EntityTagHeaderValue($"\"{package.Sha256}\"");
        if (file.Length > 0)
        {
            request.Headers.Range = new RangeHeaderValue(file.Length, null);
            request.Headers.IfRange = new RangeConditionHeaderValue(tag);
        }
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.Headers.ETag?.Tag != tag.Tag)
        {
            throw new WelkinProtocolException($"The package of machine '{package.MachineId}' changed (it is {response.Headers.ETag?.Tag ?? "untagged"} now); ask for it again.");
        }
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            if (response.Content.Headers.ContentRange?.From != file.Length)
            {
                throw new WelkinProtocolException($"The peer answered bytes from {response.Content.Headers.ContentRange?.From} for a range from {file.Length}.");
            }
        }
        else
        {
            file.SetLength(0);
        }
        file.Position = file.Length;
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[Transfers.BufferSize];
        var sinceCheckpoint = 0L;
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer, ct)) > 0)
            {
                await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(read, package.SizeBytes - file.Length)), ct);
                progress?.Report(file.Length);
                sinceCheckpoint += read;
                if (sinceCheckpoint >= settings.CheckpointBytes && checkpoint is not null)
                {
                    file.Flush(flushToDisk: true);
                    await checkpoint(file.Length, ct);
                    sinceCheckpoint = 0;
                }
            }
        }
        finally
        {
            // What arrived before a cut stays: the next request asks from there.
            file.Flush(flushToDisk: true);
            if (checkpoint is not null && sinceCheckpoint > 0)
            {
                await checkpoint(file.Length, CancellationToken.None);
            }
        }
    }

    private static string Path(string machineId) => "api/v1/machines/" + ApiConnection.Segment(machineId) + "/package";
}
