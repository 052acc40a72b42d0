using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Images;

/// <summary>The real server on a loopback port, so bodies travel through Kestrel's sockets and pipes as in production.</summary>
public sealed class KestrelWelkinApp : WelkinApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Port"] = "0",
        ["Welkin:MaxImageBytes"] = (1L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public override ValueTask InitializeAsync()
    {
        // The factory's redirect handler copies every request body into memory to be able to replay it.
        ClientOptions.AllowAutoRedirect = false;
        UseKestrel();
        StartServer();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Measures allocations of the whole process, so nothing else may run meanwhile: this collection
/// runs alone, after the parallel ones.
/// </summary>
[CollectionDefinition(nameof(AllocationMeasurement), DisableParallelization = true)]
public sealed class AllocationMeasurement;

[Collection(nameof(AllocationMeasurement))]
public sealed class ImageStreamingTests(KestrelWelkinApp app) : IClassFixture<KestrelWelkinApp>
{
    private const long Size = 300L * 1024 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UploadAndDownload_OfHundredsOfMegabytes_AllocateFarLessThanTheirSize()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        developer.Timeout = TimeSpan.FromMinutes(10);
        // A small round trip first, so that first-use costs (JIT, pools, connections) are not measured.
        var warmUp = await UploadAsync(developer, new GeneratedStream(1 << 20, seed: 1));
        await DownloadAsync(developer, warmUp.Id);

        var source = new GeneratedStream(Size, seed: Environment.TickCount);
        var before = Allocated();
        var image = await UploadAsync(developer, source);
        var uploadAllocated = Allocated() - before;

        image.SizeBytes.ShouldBe(Size);
        image.Sha256.ShouldBe(source.Sha256);
        new FileInfo(Path.Combine(app.DataDir, "blobs", "sha256", image.Sha256[..2], image.Sha256)).Length.ShouldBe(Size);
        uploadAllocated.ShouldBeLessThan(Size / 10, $"the upload allocated {uploadAllocated} bytes");

        before = Allocated();
        var (length, sha256) = await DownloadAsync(developer, image.Id);
        var downloadAllocated = Allocated() - before;

        length.ShouldBe(Size);
        sha256.ShouldBe(image.Sha256);
        downloadAllocated.ShouldBeLessThan(Size / 10, $"the download allocated {downloadAllocated} bytes");
    }

    private static long Allocated()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalAllocatedBytes(precise: true);
    }

    private static async Task<ImageView> UploadAsync(HttpClient client, GeneratedStream source)
    {
        using var body = new StreamContent(source, 64 * 1024);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        body.Headers.ContentLength = source.Length;
        var response = await client.PostAsync("/api/v1/images?name=generated", body, Ct);
        return await response.ReadAsync<ImageView>(HttpStatusCode.Created);
    }

    private static async Task<(long Length, string Sha256)> DownloadAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync($"/api/v1/images/{id}/content", HttpCompletionOption.ResponseHeadersRead, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        await using var stream = await response.Content.ReadAsStreamAsync(Ct);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, Ct)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
        }
        return (total, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>Pseudo-random bytes made as they are read (xorshift64), hashed on the way; never held in memory.</summary>
    private sealed class GeneratedStream(long length, int seed) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private ulong _state = 0x9e3779b97f4a7c15UL ^ (ulong)seed;
        private long _position;
        private string? _sha256;

        public string Sha256 => _sha256 ?? throw new InvalidOperationException("The stream was not read to its end.");

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            var chunk = buffer[..n];
            for (var i = 0; i < n; i++)
            {
                if ((i & 7) == 0)
                {
                    _state ^= _state << 13;
                    _state ^= _state >> 7;
                    _state ^= _state << 17;
                }
                chunk[i] = (byte)(_state >> (8 * (i & 7)));
            }
            _hash.AppendData(chunk);
            _position += n;
            if (_position == length && _sha256 is null)
            {
                _sha256 = Convert.ToHexStringLower(_hash.GetHashAndReset());
            }
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
