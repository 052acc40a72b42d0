using System.Formats.Tar;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Xml;
using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>What an OVA export wrote.</summary>
/// <param name="BytesWritten">Bytes copied to the destination stream.</param>
/// <param name="DiskSource">Where the disks came from: <c>machine-disk</c>, <c>image</c> or <c>none</c>.</param>
/// <param name="FileName">The file name the server suggests.</param>
public sealed record OvaDownload(long BytesWritten, string? DiskSource, string? FileName);

/// <summary>OVF packages: templates imported from OVAs (<c>/api/v1/templates/import</c>) and OVA exports of templates, machines and instances.</summary>
public sealed class OvfClient
{
    private const int BufferSize = Transfers.BufferSize;
    private readonly ApiConnection _api;

    internal OvfClient(ApiConnection api) => _api = api;

    /// <summary>Imports an OVA streamed from <paramref name="ova"/> (not buffered, not disposed) as a draft template with one image per disk.</summary>
    public async Task<OvfImportResult> ImportAsync(Stream ova, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(ova);
        using var request = new HttpRequestMessage(HttpMethod.Post, _api.Resolve("api/v1/templates/import")) { Content = new StreamContent(ova, BufferSize) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(OvfExportHeaders.OvaMediaType);
        request.Headers.ExpectContinue = true;
        return await _api.ReadAsync<OvfImportResult>(request, ct);
    }

    /// <summary>
    /// Imports an .ova file, or an .ovf descriptor with the files it references beside it, which
    /// are packed into an OVA on the fly (descriptor, the producer's manifest and certificate when
    /// they are beside it or else a SHA-256 manifest, then the files, chunked ones chunk by chunk),
    /// never staged on disk or in memory.
    /// </summary>
    public async Task<OvfImportResult> ImportFileAsync(string path, CancellationToken ct = default)
    {
        if (!path.EndsWith(".ovf", StringComparison.OrdinalIgnoreCase))
        {
            await using var ova = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            return await ImportAsync(ova, ct);
        }
        var files = ReferencedFiles(path);
        var pipe = new Pipe();
        using var packing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var writer = Task.Run(async () =>
        {
            await using var output = pipe.Writer.AsStream();
            try
            {
                await PackAsync(path, files, output, packing.Token);
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e);
                throw;
            }
        }, packing.Token);
        try
        {
            await using var input = pipe.Reader.AsStream();
            return await ImportAsync(input, ct);
        }
        finally
        {
            await packing.CancelAsync();
            try
            {
                await writer;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>The files an .ovf references (References/File/@href), each checked to be a plain name of a file beside it.</summary>
    public static IReadOnlyList<string> ReferencedFiles(string ovfPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(ovfPath))!;
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };
        var files = new List<string>();
        using (var reader = XmlReader.Create(ovfPath, settings))
        {
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "File" && reader.NamespaceURI.StartsWith("http://schemas.dmtf.org/ovf/envelope/", StringComparison.Ordinal))
                {
                    var href = reader.GetAttribute("href", reader.NamespaceURI) ?? reader.GetAttribute("href");
                    if (href is null || href.Contains('/', StringComparison.Ordinal) || href.Contains('\\', StringComparison.Ordinal) || href.Contains("..", StringComparison.Ordinal))
                    {
                        throw new InvalidDataException($"The descriptor references '{href}', which is not a plain file name beside it.");
                    }
                    var chunkSize = reader.GetAttribute("chunkSize", reader.NamespaceURI) ?? reader.GetAttribute("chunkSize");
                    if (chunkSize is null)
                    {
                        files.Add(Path.Combine(directory, href));
                        continue;
                    }
                    // OVF 2.0 5.4: a chunked file is HREF.000000000, HREF.000000001, … beside the descriptor.
                    for (var i = 0; File.Exists(Path.Combine(directory, ChunkName(href, i))) || i == 0; i++)
                    {
                        files.Add(Path.Combine(directory, ChunkName(href, i)));
                    }
                }
            }
        }
        return files.Distinct().ToList();
    }

    private static string ChunkName(string href, int index) => $"{href}.{index.ToString("D9", System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Packs the descriptor, a manifest and the files. The producer's own manifest (NAME.mf beside
    /// NAME.ovf), and its certificate, go in as they are, so the server checks the digests the
    /// producer wrote; only without one is a SHA-256 manifest written here.
    /// </summary>
    private static async Task PackAsync(string ovfPath, IReadOnlyList<string> files, Stream output, CancellationToken ct)
    {
        var producerManifest = Path.ChangeExtension(ovfPath, ".mf");
        var producerCertificate = Path.ChangeExtension(ovfPath, ".cert");
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        await tar.WriteEntryAsync(ovfPath, Path.GetFileName(ovfPath), ct);
        if (File.Exists(producerManifest))
        {
            await tar.WriteEntryAsync(producerManifest, Path.GetFileName(producerManifest), ct);
            if (File.Exists(producerCertificate))
            {
                await tar.WriteEntryAsync(producerCertificate, Path.GetFileName(producerCertificate), ct);
            }
        }
        else
        {
            var manifest = new StringBuilder();
            foreach (var file in files.Prepend(ovfPath))
            {
                await using var stream = File.OpenRead(file);
                var digest = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
                manifest.Append(System.Globalization.CultureInfo.InvariantCulture, $"SHA256({Path.GetFileName(file)})= {digest}\n");
            }
            var manifestEntry = new PaxTarEntry(TarEntryType.RegularFile, Path.GetFileName(producerManifest))
            {
                DataStream = new MemoryStream(Encoding.ASCII.GetBytes(manifest.ToString())),
            };
            await tar.WriteEntryAsync(manifestEntry, ct);
        }
        foreach (var file in files)
        {
            await tar.WriteEntryAsync(file, Path.GetFileName(file), ct);
        }
    }

    /// <summary>Streams a template version (the latest when <paramref name="templateVersion"/> is null) and its images as an OVA.</summary>
    public Task<OvaDownload> ExportTemplateAsync(string id, Stream destination, int? templateVersion = null, IProgress<long>? progress = null, CancellationToken ct = default) =>
        DownloadAsync(_api.Resolve("api/v1/templates/" + ApiConnection.Segment(id) + "/export", ("templateVersion", templateVersion)), destination, progress, ct);

    /// <summary>Streams a machine as an OVA: its own disk when the compute fabric can copy it (the machine must be stopped), else its image.</summary>
    public Task<OvaDownload> ExportMachineAsync(string id, Stream destination, IProgress<long>? progress = null, CancellationToken ct = default) =>
        DownloadAsync(_api.Resolve("api/v1/machines/" + ApiConnection.Segment(id) + "/export"), destination, progress, ct);

    /// <summary>Streams an instance as an OVA holding a VirtualSystemCollection, one VirtualSystem per machine.</summary>
    public Task<OvaDownload> ExportInstanceAsync(string id, Stream destination, IProgress<long>? progress = null, CancellationToken ct = default) =>
        DownloadAsync(_api.Resolve("api/v1/instances/" + ApiConnection.Segment(id) + "/export"), destination, progress, ct);

    private async Task<OvaDownload> DownloadAsync(Uri uri, Stream destination, IProgress<long>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var written = await Transfers.CopyAsync(body, destination, progress, ct);
        var source = response.Headers.TryGetValues(OvfExportHeaders.DiskSource, out var values) ? values.FirstOrDefault() : null;
        return new OvaDownload(written, source, response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName);
    }
}
