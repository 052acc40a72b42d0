using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Welkin.Client;
using Welkin.Server.S3;
using Welkin.Contracts;
using Welkin.Server.Tests.Scenarios;
using Welkin.Testing;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// A real server killed with SIGKILL in the middle of S3 writes (a PutObject body, an UploadPart body
/// and a CompleteMultipartUpload), then restarted on the same data directory: every acknowledged
/// object and part is there and reads back with its digest, nothing half-written is visible, and the
/// interrupted completion, retried, gives one whole version.
/// </summary>
public sealed class S3CrashTests
{
    private const int MiB = 1024 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sigkill_DuringPutPartAndComplete_LosesNothingAcknowledged_AndShowsNothingHalfWritten()
    {
        var dataDir = TestServers.NewDataDirectory();
        var s3Port = Loopback.FreePort();
        var first = Start(dataDir, s3Port);
        ServerCommand? second = null;
        try
        {
            var (vault, key) = await VaultWithKeyAsync(await first.ListeningAsync(Ct), dataDir);
            using var s3 = Client(key, s3Port);
            var bucket = vault.Name;

            var single = RandomNumberGenerator.GetBytes(MiB + 5);
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "acked/single.bin", InputStream = new MemoryStream(single) }, Ct);
            var open = await s3.InitiateMultipartUploadAsync(bucket, "acked/open.bin", Ct);
            var openParts = new[] { RandomNumberGenerator.GetBytes(5 * MiB), RandomNumberGenerator.GetBytes(3 * MiB) };
            var openETags = new List<string>();
            for (var i = 0; i < openParts.Length; i++)
            {
                openETags.Add((await PartAsync(s3, bucket, "acked/open.bin", open.UploadId, i + 1, new MemoryStream(openParts[i]), openParts[i].Length, Ct)).ETag);
            }
            var completing = await s3.InitiateMultipartUploadAsync(bucket, "acked/completing.bin", Ct);
            var completingParts = Enumerable.Range(0, 3).Select(_ => RandomNumberGenerator.GetBytes(16 * MiB)).ToArray();
            var completingETags = new List<PartETag>();
            for (var i = 0; i < completingParts.Length; i++)
            {
                var part = await PartAsync(s3, bucket, "acked/completing.bin", completing.UploadId, i + 1, new MemoryStream(completingParts[i]), completingParts[i].Length, Ct);
                completingETags.Add(new PartETag(i + 1, part.ETag));
            }

            // A PutObject and an UploadPart whose bodies stop half-way until the server is gone.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            // Sent by hand (an unsigned payload, the body streamed as it is read): the SDK reads a body it cannot seek before it sends it.
            using var http = new HttpClient();
            var put = SendStalledAsync(http, key, s3Port, $"/{bucket}/inflight/put.bin", "", 32 * MiB, new StalledStream(4 * MiB, stop.Token), stop.Token);
            var part3 = SendStalledAsync(http, key, s3Port, $"/{bucket}/acked/open.bin", $"partNumber=3&uploadId={open.UploadId}", 8 * MiB,
                new StalledStream(2 * MiB, stop.Token), stop.Token);
            var blobs = Path.Combine(dataDir, "vault", "blobs", vault.Id);
            var parts = Path.Combine(dataDir, "vault", "uploads", vault.Id, open.UploadId);
            // A guard against a hung upload, not a performance assertion.
            await Polling.UntilAsync(() => Task.FromResult(Temporaries(blobs) == 1 && Temporaries(parts) == 1), "both bodies half-written", TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(20));
            // The completion re-encrypts 48 MiB into a new blob: the kill lands while that blob is being written, if the poll sees it.
            var complete = s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket, Key = "acked/completing.bin", UploadId = completing.UploadId, PartETags = completingETags,
            }, Ct);
            while (Temporaries(blobs) < 2 && !complete.IsCompleted)
            {
                await Task.Delay(1, Ct);
            }
            var killedMidComplete = !complete.IsCompleted;
            await first.KillAsync();
            await stop.CancelAsync();
            await Should.ThrowAsync<Exception>(() => put);
            await Should.ThrowAsync<Exception>(() => part3);
            var completeAcknowledged = await Acknowledged(complete);
            TestContext.Current.SendDiagnosticMessage($"killed during the completion: {killedMidComplete}; completion acknowledged: {completeAcknowledged}");

            second = Start(dataDir, s3Port);
            var api = await second.ListeningAsync(Ct);

            Digest(await ReadAsync(s3, bucket, "acked/single.bin")).ShouldBe(Digest(single));
            (await Should.ThrowAsync<AmazonS3Exception>(() => ReadAsync(s3, bucket, "inflight/put.bin"))).ErrorCode.ShouldBe("NoSuchKey");
            var listedParts = await s3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = "acked/open.bin", UploadId = open.UploadId }, Ct);
            listedParts.Parts.Select(p => (p.PartNumber, p.ETag)).ShouldBe([(1, openETags[0]), (2, openETags[1])]);
            await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket, Key = "acked/open.bin", UploadId = open.UploadId, PartETags = [new PartETag(1, openETags[0]), new PartETag(2, openETags[1])],
            }, Ct);
            Digest(await ReadAsync(s3, bucket, "acked/open.bin")).ShouldBe(Digest([.. openParts[0], .. openParts[1]]));
            // The interrupted completion, retried, answers one version whether or not it committed before the kill.
            var retried = await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket, Key = "acked/completing.bin", UploadId = completing.UploadId, PartETags = completingETags,
            }, Ct);
            Digest(await ReadAsync(s3, bucket, "acked/completing.bin")).ShouldBe(Digest([.. completingParts[0], .. completingParts[1], .. completingParts[2]]));
            using var tenant = new HttpClient { BaseAddress = api };
            tenant.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key.Token);
            var versions = await tenant.GetFromJsonAsync<Page<VaultRecordView>>($"/api/v1/vaults/{vault.Id}/records?key=acked/completing.bin", WelkinJson.Client, Ct);
            versions!.Items.Select(r => r.Id).ShouldBe([retried.VersionId]);
            var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Ct);
            listed.S3Objects.Select(o => o.Key).ShouldBe(["acked/completing.bin", "acked/open.bin", "acked/single.bin"]);
            (await s3.ListMultipartUploadsAsync(bucket, Ct)).MultipartUploads.ShouldBeNull();
            using var provider = new WelkinClient(api, TestServers.AdminToken(dataDir));
            var audit = await provider.Audit.VerifyAsync(Ct);
            audit.Valid.ShouldBeTrue(audit.Problem);
        }
        catch
        {
            TestContext.Current.SendDiagnosticMessage("first server:\n" + first.Output + "\nsecond server:\n" + second?.Output);
            throw;
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }
            await first.DisposeAsync();
            TempDirectories.TryDelete(dataDir);
        }
    }

    private static ServerCommand Start(string dataDir, int s3Port) =>
        ServerCommand.Start(AppContext.BaseDirectory, ["--port", "0", "--data-dir", dataDir], new Dictionary<string, string>
        {
            ["Logging__LogLevel__Default"] = "Warning",
            ["S3__Listen"] = "127.0.0.1:" + s3Port.ToString(CultureInfo.InvariantCulture),
        });

    private sealed record Key(string Id, string Secret, string Token);

    /// <summary>A tenant with a vault of one storage unit and an access key of its admin, set up through the API.</summary>
    private static async Task<(VaultView Vault, Key Key)> VaultWithKeyAsync(Uri api, string dataDir)
    {
        using var admin = new WelkinClient(api, TestServers.AdminToken(dataDir));
        var offering = await admin.Offerings.CreateAsync(ProviderCo.StorageUnits("crash "), Ct);
        await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
        var signUp = await admin.Accounts.SignUpAsync(new SignUpRequest("crash-" + Guid.NewGuid().ToString("n")[..8], "Crash Inc.", new SignUpAdmin("admin")), Ct);
        await admin.Accounts.SetLimitsAsync(signUp.Account.Id, new SetLimitsRequest(new Dictionary<string, long> { ["storage-unit"] = 10 }), Ct);
        using var tenant = new WelkinClient(api, signUp.Token.Secret);
        var contract = await tenant.Contracts.RequestAsync(new ContractRequest([new ContractItemRequest(offering.Id, 2)]), Ct);
        await tenant.Contracts.AcceptAsync(contract.Id, ct: Ct);
        var vault = await tenant.Vaults.CreateAsync(new CreateVaultRequest(contract.Id, 100, "records"), Ct);
        var key = await tenant.AccessKeys.CreateAsync(signUp.Admin.Id, new CreateAccessKeyRequest("crash"), Ct);
        return (vault, new Key(key.Id, key.Secret, signUp.Token.Secret));
    }

    private static AmazonS3Client Client(Key key, int s3Port) =>
        new(new BasicAWSCredentials(key.Id, key.Secret), new AmazonS3Config
        {
            ServiceURL = "http://127.0.0.1:" + s3Port.ToString(CultureInfo.InvariantCulture),
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            MaxErrorRetry = 0,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    private static Task<UploadPartResponse> PartAsync(AmazonS3Client s3, string bucket, string key, string uploadId, int number, Stream content, long length,
        CancellationToken ct)
    {
        var request = new UploadPartRequest { BucketName = bucket, Key = key, UploadId = uploadId, PartNumber = number, InputStream = content, PartSize = length };
        return s3.UploadPartAsync(request, ct);
    }

    /// <summary>A PUT signed by hand with an unsigned payload, declaring <paramref name="length"/> bytes and sending what <paramref name="body"/> gives.</summary>
    private static async Task<HttpResponseMessage> SendStalledAsync(HttpClient http, Key key, int s3Port, string path, string query, long length, Stream body,
        CancellationToken ct)
    {
        var host = "127.0.0.1:" + s3Port.ToString(CultureInfo.InvariantCulture);
        var amzDate = HandSigned.AmzDate(DateTimeOffset.UtcNow);
        var date = amzDate[..8];
        var headers = new Dictionary<string, string> { ["host"] = host, ["x-amz-content-sha256"] = SigV4.UnsignedPayload, ["x-amz-date"] = amzDate };
        var names = headers.Keys.Order(StringComparer.Ordinal).ToList();
        var canonical = SigV4.CanonicalRequest(new SigV4Request("PUT", path, query, n => headers.GetValueOrDefault(n), SigV4.UnsignedPayload), names, presigned: false)!;
        var scope = $"{date}/us-east-1/s3/aws4_request";
        var signature = SigV4.Signature(SigV4.SigningKey(key.Secret, date, "us-east-1", "s3"), SigV4.StringToSign(amzDate, scope, canonical));
        using var request = new HttpRequestMessage(HttpMethod.Put, $"http://{host}{path}" + (query.Length > 0 ? "?" + query : ""));
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", SigV4.UnsignedPayload);
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("Authorization", $"{SigV4.Algorithm} Credential={key.Id}/{scope}, SignedHeaders={string.Join(';', names)}, Signature={signature}");
        request.Content = new StreamContent(body);
        request.Content.Headers.ContentLength = length;
        return await http.SendAsync(request, ct);
    }

    private static async Task<byte[]> ReadAsync(AmazonS3Client s3, string bucket, string key)
    {
        using var response = await s3.GetObjectAsync(bucket, key, Ct);
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    private static async Task<bool> Acknowledged(Task task)
    {
        try
        {
            await task;
            return true;
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Files being written (flushed and renamed only when whole) in <paramref name="dir"/>.</summary>
    private static int Temporaries(string dir) => Directory.Exists(dir) ? Directory.GetFiles(dir, "*.tmp").Length : 0;

    private static string Digest(byte[] bytes) => $"{bytes.Length.ToString(CultureInfo.InvariantCulture)} {Convert.ToHexStringLower(SHA256.HashData(bytes))}";

    /// <summary>Random bytes up to <paramref name="before"/>, then nothing until <paramref name="stop"/> ends the read.</summary>
    private sealed class StalledStream(int before, CancellationToken stop) : Stream
    {
        private int _given;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_given >= before)
            {
                await Task.Delay(Timeout.Infinite, stop);
            }
            var n = Math.Min(buffer.Length, before - _given);
            RandomNumberGenerator.Fill(buffer.Span[..n]);
            _given += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
