using System.Net;
using System.Net.Http.Headers;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Server.Tests.Images;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Uploads;

/// <summary>
/// Uploads over real sockets (Kestrel on a loopback port): a connection cut in the middle of a
/// chunk, and bodies whose length only the server's count can tell.
/// </summary>
public sealed class ResumableUploadTests(KestrelWelkinApp app) : IClassFixture<KestrelWelkinApp>
{
    private const int ChunkBytes = 256 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(100_000)]
    [InlineData(ChunkBytes + 5)]
    [InlineData(3 * ChunkBytes + 77_777)]
    public async Task ClientUpload_CutMidChunk_ResumesAtTheServersOffset_AndSendsNoByteTwiceBeyondTheCutChunk(long cutAt)
    {
        var (signUp, _) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(1 << 20);
        var cutter = new CuttingHandler(cutAt) { InnerHandler = new SocketsHttpHandler() };
        using var http = new HttpClient(cutter);
        using var client = new WelkinClient(http, app.CreateClient().BaseAddress!, signUp.Token.Secret);
        var reported = new List<long>();

        var upload = await client.Uploads.UploadAsync(new MemoryStream(content), progress: new SyncProgress(reported.Add),
            settings: new UploadSettings(ChunkBytes, MaxAttempts: 10, RetryDelay: TimeSpan.FromMilliseconds(50)), ct: Ct);

        cutter.Cuts.ShouldBe(1);
        upload.State.ShouldBe(UploadState.Complete);
        upload.ReceivedBytes.ShouldBe(content.Length);
        upload.Sha256.ShouldBe(UploadsApi.Sha256(content));
        (await File.ReadAllBytesAsync(Path.Combine(app.DataDir, "uploads", upload.Id + ".part"), Ct)).ShouldBe(content);
        // What was sent beyond the content's length is at most the part of the cut chunk the server did not keep.
        (cutter.BodyBytesSent - content.Length).ShouldBeInRange(0, ChunkBytes);
        reported[^1].ShouldBe(content.Length);
    }

    [Fact]
    public async Task ClientUpload_ResumesAnUploadOpenedEarlier_FromItsOffset()
    {
        var (signUp, raw) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(600_000);
        var upload = await UploadsApi.CreateAsync(raw, content);
        await (await UploadsApi.PutAsync(raw, upload.Id, content, 0, 399_999)).ReadAsync<UploadView>();
        var counter = new CuttingHandler(long.MaxValue) { InnerHandler = new SocketsHttpHandler() };
        using var http = new HttpClient(counter);
        using var client = new WelkinClient(http, app.CreateClient().BaseAddress!, signUp.Token.Secret);

        var done = await client.Uploads.UploadAsync(new MemoryStream(content), resumeId: upload.Id, ct: Ct);

        done.State.ShouldBe(UploadState.Complete);
        counter.BodyBytesSent.ShouldBe(200_000);
    }

    [Fact]
    public async Task ChunkedBody_LongerThanItsRange_IsRefused_AndShorterKeepsWhatArrived()
    {
        var (_, client) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(1000);
        var upload = await UploadsApi.CreateAsync(client, content);
        var part = Path.Combine(app.DataDir, "uploads", upload.Id + ".part");

        var longer = await SendChunkedAsync(client, upload.Id, content[..200], "bytes 0-99/1000");
        var problem = await longer.ProblemAsync(HttpStatusCode.BadRequest, "bad-content-range");
        problem.GetProperty("detail").GetString()!.ShouldContain("longer");
        new FileInfo(part).Length.ShouldBe(0);

        var shorter = await (await SendChunkedAsync(client, upload.Id, content[..60], "bytes 0-99/1000")).ReadAsync<UploadView>();
        shorter.ReceivedBytes.ShouldBe(60);
        (await File.ReadAllBytesAsync(part, Ct)).ShouldBe(content[..60]);
    }

    /// <summary>A body without Content-Length (chunked transfer coding), so only the server's count can tell its length.</summary>
    private static Task<HttpResponseMessage> SendChunkedAsync(HttpClient client, string id, byte[] body, string contentRange)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/uploads/{id}") { Content = new StreamContent(new UnknownLength(body)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Content.Headers.TryAddWithoutValidation("Content-Range", contentRange);
        request.Headers.TransferEncodingChunked = true;
        return client.SendAsync(request, Ct);
    }

    private sealed class UnknownLength(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    /// <summary>
    /// Counts the body bytes of every PUT that reach the socket, and once, when the count passes
    /// <paramref name="cutAt"/>, writes up to that byte and then fails the request mid-body: the
    /// connection is torn down as a network cut would.
    /// </summary>
    private sealed class CuttingHandler(long cutAt) : DelegatingHandler
    {
        private long _sent;
        private int _cuts;

        public long BodyBytesSent => Interlocked.Read(ref _sent);

        public int Cuts => _cuts;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Put && request.Content is { } content)
            {
                request.Content = new Counted(this, content);
            }
            return base.SendAsync(request, cancellationToken);
        }

        private async Task WriteAsync(Stream target, ReadOnlyMemory<byte> buffer, CancellationToken ct)
        {
            var before = Interlocked.Read(ref _sent);
            if (_cuts == 0 && before + buffer.Length > cutAt)
            {
                var keep = (int)(cutAt - before);
                await target.WriteAsync(buffer[..keep], ct);
                await target.FlushAsync(ct);
                Interlocked.Add(ref _sent, keep);
                _cuts++;
                throw new IOException("The connection was cut.");
            }
            await target.WriteAsync(buffer, ct);
            Interlocked.Add(ref _sent, buffer.Length);
        }

        private sealed class Counted : HttpContent
        {
            private readonly CuttingHandler _handler;
            private readonly HttpContent _inner;

            public Counted(CuttingHandler handler, HttpContent inner)
            {
                (_handler, _inner) = (handler, inner);
                foreach (var header in inner.Headers)
                {
                    Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
                SerializeToStreamAsync(stream, context, CancellationToken.None);

            protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
                _inner.CopyToAsync(new Tap(_handler, stream), cancellationToken);

            protected override bool TryComputeLength(out long length)
            {
                length = _inner.Headers.ContentLength ?? 0;
                return _inner.Headers.ContentLength is not null;
            }
        }

        private sealed class Tap(CuttingHandler handler, Stream target) : Stream
        {
            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => throw new NotSupportedException();

            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override void Flush() => target.Flush();

            public override Task FlushAsync(CancellationToken cancellationToken) => target.FlushAsync(cancellationToken);

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) =>
                WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

            public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
                await handler.WriteAsync(target, buffer, cancellationToken);
        }
    }
}

/// <summary>A cloud on a data directory the test chooses, so that a second one can start where the first stopped.</summary>
public sealed class DataDirWelkinApp(string dataDir) : WelkinApp
{
    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Welkin:DataDir", dataDir);
    }
}

public sealed class UploadRestartTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AcknowledgedOffset_SurvivesARestart_AndBytesNeverRecordedAreCutOff()
    {
        var dataDir = Welkin.Testing.TestServers.NewDataDirectory();
        try
        {
            var content = UploadsApi.Disk(500_000);
            string token, id;
            await using (var first = new DataDirWelkinApp(dataDir))
            {
                await first.InitializeAsync();
                var (signUp, client) = await first.SignUpAsync("up");
                token = signUp.Token.Secret;
                var upload = await UploadsApi.CreateAsync(client, content);
                id = upload.Id;
                (await (await UploadsApi.PutAsync(client, id, content, 0, 299_999)).ReadAsync<UploadView>()).ReceivedBytes.ShouldBe(300_000);
            }
            // As after a crash between writing a chunk and recording it: bytes on disk the offset does not count.
            await using (var part = new FileStream(Path.Combine(dataDir, "uploads", id + ".part"), FileMode.Append))
            {
                await part.WriteAsync(new byte[12_345], Ct);
            }

            await using var second = new DataDirWelkinApp(dataDir);
            await second.InitializeAsync();
            var again = second.As(token);
            var resumed = await (await again.GetAsync($"/api/v1/uploads/{id}", Ct)).ReadAsync<UploadView>();
            resumed.ReceivedBytes.ShouldBe(300_000);
            var done = await (await UploadsApi.PutAsync(again, id, content, 300_000, content.Length - 1)).ReadAsync<UploadView>();

            done.State.ShouldBe(UploadState.Complete);
            (await File.ReadAllBytesAsync(Path.Combine(dataDir, "uploads", id + ".part"), Ct)).ShouldBe(content);
        }
        finally
        {
            Welkin.Testing.TempDirectories.TryDelete(dataDir);
        }
    }
}
