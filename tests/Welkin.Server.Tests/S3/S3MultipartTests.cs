using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using Welkin.Contracts;
using Welkin.Server.S3;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// Multipart upload over the cloud's vaults: AWSSDK.S3's TransferUtility and its low-level calls,
/// awscli and rclone copying files large enough to go in parts, and S3's refusals (part order, a
/// part not uploaded, a small part, an unknown upload, a bad part number, a bad digest, an oversized part).
/// </summary>
public sealed class S3MultipartTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private const int MiB = 1024 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(VaultView Vault, IssuedAccessKey Key, AmazonS3Client S3)> BucketAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        return (vault, key, app.S3Client(key.Id, key.Secret, checksumsWhenRequired: true));
    }


    private static async Task<byte[]> ReadAsync(AmazonS3Client s3, string bucket, string key)
    {
        using var response = await s3.GetObjectAsync(bucket, key, Ct);
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    /// <summary>Length and SHA-256: what a comparison of large contents should print when they differ.</summary>
    private static string Digest(byte[] bytes) => $"{bytes.Length.ToString(CultureInfo.InvariantCulture)} {Convert.ToHexStringLower(SHA256.HashData(bytes))}";

#pragma warning disable CA5351 // MD5 is S3's part ETag and Content-MD5, not a security measure.
    private static string Md5Hex(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));

    private static string Md5Base64(byte[] bytes) => Convert.ToBase64String(MD5.HashData(bytes));
#pragma warning restore CA5351

    private static async Task<UploadPartResponse> PartAsync(AmazonS3Client s3, string bucket, string key, string uploadId, int number, byte[] bytes, string? md5 = null) =>
        await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = bucket, Key = key, UploadId = uploadId, PartNumber = number, InputStream = new MemoryStream(bytes), MD5Digest = md5,
        }, Ct);

    [Fact]
    public async Task TransferUtility_Uploads20MiBInParts_AndReadsItBackEqual()
    {
        var (vault, _, s3) = await BucketAsync();
        using var _ = s3;
        var bytes = RandomNumberGenerator.GetBytes(20 * MiB);

        using (var transfer = new TransferUtility(s3))
        {
            await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = vault.Name, Key = "big/twenty.bin", InputStream = new MemoryStream(bytes) }, Ct);
        }
        var back = await ReadAsync(s3, vault.Name, "big/twenty.bin");
        var head = await s3.GetObjectMetadataAsync(vault.Name, "big/twenty.bin", Ct);
        var uploads = await s3.ListMultipartUploadsAsync(vault.Name, Ct);

        Digest(back).ShouldBe(Digest(bytes));
        head.ContentLength.ShouldBe(bytes.Length);
        (uploads.MultipartUploads ?? []).ShouldBeEmpty();
        app.Logs.Lines.ShouldNotContain(l => l.Contains("Unhandled error on S3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task LowLevelCalls_ListPartsAndUploads_CompleteWithTheMultipartETag_AndEndTheUpload()
    {
        var (vault, _, s3) = await BucketAsync();
        using var _ = s3;
        var first = RandomNumberGenerator.GetBytes(5 * MiB);
        var second = RandomNumberGenerator.GetBytes(5 * MiB + 17);
        var last = Encoding.UTF8.GetBytes("the end");

        var created = await s3.InitiateMultipartUploadAsync(vault.Name, "ledger/2026.csv", Ct);
        var p1 = await PartAsync(s3, vault.Name, "ledger/2026.csv", created.UploadId, 1, first, Md5Base64(first));
        var p3 = await PartAsync(s3, vault.Name, "ledger/2026.csv", created.UploadId, 3, last);
        var p2 = await PartAsync(s3, vault.Name, "ledger/2026.csv", created.UploadId, 2, RandomNumberGenerator.GetBytes(6 * MiB));
        p2 = await PartAsync(s3, vault.Name, "ledger/2026.csv", created.UploadId, 2, second);
        var parts = await s3.ListPartsAsync(new ListPartsRequest { BucketName = vault.Name, Key = "ledger/2026.csv", UploadId = created.UploadId }, Ct);
        var firstPage = await s3.ListPartsAsync(new ListPartsRequest { BucketName = vault.Name, Key = "ledger/2026.csv", UploadId = created.UploadId, MaxParts = 2 }, Ct);
        var open = await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = vault.Name, Prefix = "ledger/" }, Ct);
        var completed = await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = vault.Name, Key = "ledger/2026.csv", UploadId = created.UploadId,
            PartETags = [new PartETag(1, p1.ETag), new PartETag(2, p2.ETag), new PartETag(3, p3.ETag)],
        }, Ct);
        var back = await ReadAsync(s3, vault.Name, "ledger/2026.csv");
        var afterwards = await s3.ListMultipartUploadsAsync(vault.Name, Ct);
        var late = await Should.ThrowAsync<AmazonS3Exception>(() => PartAsync(s3, vault.Name, "ledger/2026.csv", created.UploadId, 4, last));

        created.UploadId.ShouldStartWith("vup_");
        p1.ETag.ShouldBe("\"" + Md5Hex(first) + "\"");
        p2.ETag.ShouldBe("\"" + Md5Hex(second) + "\"");
        parts.Parts.Select(p => (p.PartNumber, p.ETag, p.Size)).ShouldBe(
            [(1, p1.ETag, first.Length), (2, p2.ETag, second.Length), (3, p3.ETag, last.Length)]);
        firstPage.IsTruncated.ShouldBe(true);
        firstPage.NextPartNumberMarker.ShouldBe(2);
        open.MultipartUploads.Select(u => (u.Key, u.UploadId)).ShouldBe([("ledger/2026.csv", created.UploadId)]);
#pragma warning disable CA5351
        var expected = Convert.ToHexStringLower(MD5.HashData(MD5.HashData(first).Concat(MD5.HashData(second)).Concat(MD5.HashData(last)).ToArray())) + "-3";
#pragma warning restore CA5351
        completed.ETag.ShouldBe("\"" + expected + "\"");
        completed.VersionId.ShouldStartWith("vrc_");
        Digest(back).ShouldBe(Digest([.. first, .. second, .. last]));
        (afterwards.MultipartUploads ?? []).ShouldBeEmpty();
        late.ErrorCode.ShouldBe("NoSuchUpload");
        late.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Complete_WithBadPartLists_IsRefusedAsS3Does_AndKeepsNothing()
    {
        var (vault, key, s3) = await BucketAsync();
        using var _ = s3;
        var small = RandomNumberGenerator.GetBytes(1000);
        var created = await s3.InitiateMultipartUploadAsync(vault.Name, "parts.bin", Ct);
        var p1 = await PartAsync(s3, vault.Name, "parts.bin", created.UploadId, 1, small);
        var p2 = await PartAsync(s3, vault.Name, "parts.bin", created.UploadId, 2, small);

        Task<CompleteMultipartUploadResponse> Complete(params PartETag[] parts) => s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = vault.Name, Key = "parts.bin", UploadId = created.UploadId, PartETags = [.. parts],
        }, Ct);
        // The SDK sorts the parts it sends: a list out of order is sent by hand.
        var order = await RawAsync("POST", $"/{vault.Name}/parts.bin", $"uploadId={created.UploadId}", key, [],
            $"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>{p2.ETag}</ETag></Part><Part><PartNumber>1</PartNumber><ETag>{p1.ETag}</ETag></Part></CompleteMultipartUpload>");
        var missing = await Should.ThrowAsync<AmazonS3Exception>(() => Complete(new PartETag(1, p1.ETag), new PartETag(5, p2.ETag)));
        var wrongETag = await Should.ThrowAsync<AmazonS3Exception>(() => Complete(new PartETag(1, "\"" + new string('0', 32) + "\"")));
        var tooSmall = await Should.ThrowAsync<AmazonS3Exception>(() => Complete(new PartETag(1, p1.ETag), new PartETag(2, p2.ETag)));
        var wrongKey = await Should.ThrowAsync<AmazonS3Exception>(() => PartAsync(s3, vault.Name, "other.bin", created.UploadId, 3, small));
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct);
        await s3.AbortMultipartUploadAsync(vault.Name, "parts.bin", created.UploadId, Ct);
        var aborted = await Should.ThrowAsync<AmazonS3Exception>(() =>
            s3.ListPartsAsync(new ListPartsRequest { BucketName = vault.Name, Key = "parts.bin", UploadId = created.UploadId }, Ct));
        var unknown = await Should.ThrowAsync<AmazonS3Exception>(() => s3.AbortMultipartUploadAsync(vault.Name, "parts.bin", "vup_nope", Ct));

        order.ShouldStartWith("HTTP/1.1 400");
        order.ShouldContain("<Code>InvalidPartOrder</Code>");
        missing.ErrorCode.ShouldBe("InvalidPart");
        wrongETag.ErrorCode.ShouldBe("InvalidPart");
        tooSmall.ErrorCode.ShouldBe("EntityTooSmall");
        new[] { missing, wrongETag, tooSmall }.ShouldAllBe(e => e.StatusCode == HttpStatusCode.BadRequest);
        (listed.S3Objects ?? []).ShouldBeEmpty();
        aborted.ErrorCode.ShouldBe("NoSuchUpload");
        unknown.ErrorCode.ShouldBe("NoSuchUpload");
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        wrongKey.ErrorCode.ShouldBe("NoSuchUpload");
    }

    [Fact]
    public async Task UploadPart_WithABadNumberOrDigest_IsRefused_AndKeepsNoPart()
    {
        var (vault, _, s3) = await BucketAsync();
        using var _ = s3;
        var bytes = Encoding.UTF8.GetBytes("part");
        var created = await s3.InitiateMultipartUploadAsync(vault.Name, "digests.bin", Ct);

        var zero = await Should.ThrowAsync<AmazonS3Exception>(() => PartAsync(s3, vault.Name, "digests.bin", created.UploadId, 0, bytes));
        var over = await Should.ThrowAsync<AmazonS3Exception>(() => PartAsync(s3, vault.Name, "digests.bin", created.UploadId, 10_001, bytes));
        var md5 = await Should.ThrowAsync<AmazonS3Exception>(() =>
            PartAsync(s3, vault.Name, "digests.bin", created.UploadId, 1, bytes, Convert.ToBase64String(new byte[16])));
        var sha = await Should.ThrowAsync<AmazonS3Exception>(() => s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = vault.Name, Key = "digests.bin", UploadId = created.UploadId, PartNumber = 1, InputStream = new MemoryStream(bytes),
            ChecksumSHA256 = Convert.ToBase64String(new byte[32]),
        }, Ct));
        var good = await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = vault.Name, Key = "digests.bin", UploadId = created.UploadId, PartNumber = 2, InputStream = new MemoryStream(bytes),
            ChecksumSHA256 = Convert.ToBase64String(SHA256.HashData(bytes)), MD5Digest = Md5Base64(bytes),
        }, Ct);
        var parts = await s3.ListPartsAsync(new ListPartsRequest { BucketName = vault.Name, Key = "digests.bin", UploadId = created.UploadId }, Ct);

        zero.ErrorCode.ShouldBe("InvalidArgument");
        over.ErrorCode.ShouldBe("InvalidArgument");
        md5.ErrorCode.ShouldBe("BadDigest");
        sha.ErrorCode.ShouldBe("BadDigest");
        good.ETag.ShouldBe("\"" + Md5Hex(bytes) + "\"");
        parts.Parts.Select(p => p.PartNumber).ShouldBe([2]);
    }

    [Fact]
    public async Task UploadPart_DeclaredOver5GiB_IsEntityTooLarge_BeforeTheBodyIsRead()
    {
        var (vault, key, s3) = await BucketAsync();
        using var _ = s3;
        var created = await s3.InitiateMultipartUploadAsync(vault.Name, "huge.bin", Ct);
        var query = $"partNumber=1&uploadId={created.UploadId}";
        var length = (5L * 1024 * MiB + 1).ToString(CultureInfo.InvariantCulture);

        var answer = await RawAsync("PUT", $"/{vault.Name}/huge.bin", query, key, [("content-length", length)]);

        answer.ShouldStartWith("HTTP/1.1 400");
        answer.ShouldContain("<Code>EntityTooLarge</Code>");
    }

    [Fact]
    public async Task AnotherAccountsKey_GetsNoSuchBucket_ForTheUploadsOfABucket()
    {
        var (vault, _, s3) = await BucketAsync();
        using var _ = s3;
        var created = await s3.InitiateMultipartUploadAsync(vault.Name, "mine.bin", Ct);
        var (other, _, otherKey) = await app.AccountWithKeyAsync();
        using var stranger = app.S3Client(otherKey.Id, otherKey.Secret, checksumsWhenRequired: true);

        var list = await Should.ThrowAsync<AmazonS3Exception>(() => stranger.ListMultipartUploadsAsync(vault.Name, Ct));
        var part = await Should.ThrowAsync<AmazonS3Exception>(() => PartAsync(stranger, vault.Name, "mine.bin", created.UploadId, 1, [1, 2, 3]));
        var abort = await Should.ThrowAsync<AmazonS3Exception>(() => stranger.AbortMultipartUploadAsync(vault.Name, "mine.bin", created.UploadId, Ct));
        var still = await s3.ListPartsAsync(new ListPartsRequest { BucketName = vault.Name, Key = "mine.bin", UploadId = created.UploadId }, Ct);

        other.Account.Id.ShouldNotBeNullOrEmpty();
        new[] { list, part, abort }.ShouldAllBe(e => e.ErrorCode == "NoSuchBucket");
        still.UploadId.ShouldBe(created.UploadId);
    }

    [Fact]
    public async Task AwsCliCp_Of20MiB_GoesInParts_AndCopiesBackEqual()
    {
        var (vault, key, s3) = await BucketAsync();
        using var _ = s3;
        var dir = Welkin.Testing.TempDirectories.NewPath("welkin-s3mp-");
        Directory.CreateDirectory(dir);
        var bytes = RandomNumberGenerator.GetBytes(20 * MiB);
        await File.WriteAllBytesAsync(Path.Combine(dir, "up.bin"), bytes, Ct);
        try
        {
            var up = await AwsAsync(key, "s3", "cp", Path.Combine(dir, "up.bin"), $"s3://{vault.Name}/cli/up.bin");
            // awscli downloads objects over 8 MiB in ranged parts too.
            var down = await AwsAsync(key, "s3", "cp", $"s3://{vault.Name}/cli/up.bin", Path.Combine(dir, "down.bin"));
            var back = await ReadAsync(s3, vault.Name, "cli/up.bin");
            var head = await s3.GetObjectMetadataAsync(vault.Name, "cli/up.bin", Ct);

            up.Exit.ShouldBe(0, up.Err);
            down.Exit.ShouldBe(0, down.Err);
            Digest(await File.ReadAllBytesAsync(Path.Combine(dir, "down.bin"), Ct)).ShouldBe(Digest(bytes));
            Digest(back).ShouldBe(Digest(bytes));
            head.ContentLength.ShouldBe(bytes.Length);
            app.Logs.Lines.ShouldNotContain(l => l.Contains("Unhandled error on S3", StringComparison.Ordinal));
            // awscli's threshold and part size are 8 MiB: three parts, one completed upload.
            (await AuditedAsync(vault, "vault.upload.complete")).ShouldBe(1);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task RcloneCopy_OfALargeFile_GoesInParts_AndReadsBackEqual()
    {
        var (vault, key, s3) = await BucketAsync();
        using var _ = s3;
        var dir = Welkin.Testing.TempDirectories.NewPath("welkin-s3rc-");
        Directory.CreateDirectory(dir);
        var bytes = RandomNumberGenerator.GetBytes(12 * MiB + 3);
        await File.WriteAllBytesAsync(Path.Combine(dir, "large.bin"), bytes, Ct);
        try
        {
            // rclone's cut-off for multipart is 200 MiB by default; lowered so that a 12 MiB file goes in 5 MiB parts (buckets are vaults, made through the API).
            var copy = await RcloneAsync(key, "copy", Path.Combine(dir, "large.bin"), $"welkin:{vault.Name}/rclone/",
                "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--s3-no-check-bucket");
            var back = await ReadAsync(s3, vault.Name, "rclone/large.bin");

            copy.Exit.ShouldBe(0, copy.Err);
            Digest(back).ShouldBe(Digest(bytes));
            (await AuditedAsync(vault, "vault.upload.complete")).ShouldBe(1);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>How many audit entries of <paramref name="action"/> the vault's account has.</summary>
    private async Task<int> AuditedAsync(VaultView vault, string action)
    {
        using var admin = app.Admin();
        var count = 0;
        long? after = null;
        while (true)
        {
            var query = $"/api/v1/audit?accountId={vault.AccountId}&limit=500" + (after is { } a ? "&after=" + a.ToString(CultureInfo.InvariantCulture) : "");
            var page = await (await admin.GetAsync(query, Ct)).ReadAsync<Page<AuditEntryView>>();
            count += page.Items.Count(e => e.Action == action && e.Detail?.Contains($"vault={vault.Id}", StringComparison.Ordinal) == true);
            if (page.Next is null || page.Items.Count == 0)
            {
                return count;
            }
            after = page.Items[^1].Seq;
        }
    }

    private Task<(int Exit, string Out, string Err)> AwsAsync(IssuedAccessKey key, params string[] args) =>
        ClientProcess.RunAsync("/usr/bin/aws", args.Concat(["--endpoint-url", app.S3Endpoint.AbsoluteUri.TrimEnd('/')]), home => new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = key.Id,
            ["AWS_SECRET_ACCESS_KEY"] = key.Secret,
            ["AWS_DEFAULT_REGION"] = "us-east-1",
            ["AWS_CONFIG_FILE"] = Path.Combine(home, "config"),
            ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(home, "credentials"),
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["AWS_MAX_ATTEMPTS"] = "1",
            ["AWS_PAGER"] = "",
        }, Ct);

    private Task<(int Exit, string Out, string Err)> RcloneAsync(IssuedAccessKey key, params string[] args) =>
        ClientProcess.RunAsync("/usr/bin/rclone", [.. args, "--retries", "1", "--low-level-retries", "1"], home => new Dictionary<string, string>
        {
            ["RCLONE_CONFIG"] = Path.Combine(home, "rclone.conf"),
            ["RCLONE_CONFIG_WELKIN_TYPE"] = "s3",
            ["RCLONE_CONFIG_WELKIN_PROVIDER"] = "Other",
            ["RCLONE_CONFIG_WELKIN_ACCESS_KEY_ID"] = key.Id,
            ["RCLONE_CONFIG_WELKIN_SECRET_ACCESS_KEY"] = key.Secret,
            ["RCLONE_CONFIG_WELKIN_ENDPOINT"] = app.S3Endpoint.AbsoluteUri.TrimEnd('/'),
            ["RCLONE_CONFIG_WELKIN_REGION"] = "us-east-1",
            ["RCLONE_CONFIG_WELKIN_FORCE_PATH_STYLE"] = "true",
        }, Ct);

    /// <summary>
    /// A request signed by hand, over a raw socket, for what no client sends: headers that claim a
    /// body over 5 GiB (with an unsigned payload, and no body follows), or a part list out of order; the answer as text.
    /// </summary>
    private async Task<string> RawAsync(string method, string path, string query, IssuedAccessKey key, IReadOnlyList<(string Name, string Value)> extra, string? body = null)
    {
        var content = Encoding.UTF8.GetBytes(body ?? "");
        var payload = body is null ? SigV4.UnsignedPayload : Convert.ToHexStringLower(SHA256.HashData(content));
        var amzDate = HandSigned.AmzDate(DateTimeOffset.UtcNow);
        var date = amzDate[..8];
        var headers = new Dictionary<string, string>
        {
            ["host"] = app.S3Endpoint.Authority, ["x-amz-content-sha256"] = payload, ["x-amz-date"] = amzDate,
        };
        var names = headers.Keys.Order(StringComparer.Ordinal).ToList();
        var canonical = SigV4.CanonicalRequest(new SigV4Request(method, path, query, n => headers.GetValueOrDefault(n), payload), names, presigned: false)!;
        var scope = $"{date}/us-east-1/s3/aws4_request";
        var signature = SigV4.Signature(SigV4.SigningKey(key.Secret, date, "us-east-1", "s3"), SigV4.StringToSign(amzDate, scope, canonical));
        var text = new StringBuilder($"{method} {path}?{query} HTTP/1.1\r\n");
        foreach (var (name, value) in headers)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }
        foreach (var (name, value) in extra)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }
        text.Append(CultureInfo.InvariantCulture, $"authorization: {SigV4.Algorithm} Credential={key.Id}/{scope}, SignedHeaders={string.Join(';', names)}, Signature={signature}\r\n\r\n");
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, app.S3Port, Ct);
        var stream = socket.GetStream();
        if (body is not null)
        {
            text.Insert(text.Length - 2, string.Create(CultureInfo.InvariantCulture, $"content-length: {content.Length}\r\n"));
        }
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()), Ct);
        await stream.WriteAsync(content, Ct);
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        int read;
        while (!answer.ToString().Contains("</Error>", StringComparison.Ordinal) && (read = await stream.ReadAsync(buffer, Ct)) > 0)
        {
            answer.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        return answer.ToString();
    }
}
