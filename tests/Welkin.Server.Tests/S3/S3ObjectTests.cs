using System.Net;
using System.Net.Http.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Welkin.Contracts;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// Object operations over the cloud's vaults with AWSSDK.S3: put, get, head, delete of a version
/// under the retention rules, ListObjectsV2, the bucket's versioning and Object Lock configuration,
/// and another account's key answered as for a missing bucket.
/// </summary>
public sealed class S3ObjectTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ConfigurationApi.Tenant Tenant, VaultView Vault, AmazonS3Client S3)> BucketAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        return (tenant, vault, app.S3Client(key.Id, key.Secret));
    }


    private static async Task<string> ContentAsync(GetObjectResponse response)
    {
        using var reader = new StreamReader(response.ResponseStream);
        return await reader.ReadToEndAsync(Ct);
    }

    [Fact]
    public async Task PutGetHeadDelete_RoundTripsAVersion()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;

        var put = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "2026/q1/ledger.csv", ContentBody = "day,amount\n1,100\n" }, Ct);
        var second = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "2026/q1/ledger.csv", ContentBody = "day,amount\n1,200\n" }, Ct);
        using var current = await s3.GetObjectAsync(vault.Name, "2026/q1/ledger.csv", Ct);
        var currentText = await ContentAsync(current);
        using var first = await s3.GetObjectAsync(new GetObjectRequest { BucketName = vault.Name, Key = "2026/q1/ledger.csv", VersionId = put.VersionId }, Ct);
        var firstText = await ContentAsync(first);
        var head = await s3.GetObjectMetadataAsync(vault.Name, "2026/q1/ledger.csv", Ct);
        var versioning = await s3.GetBucketVersioningAsync(vault.Name, Ct);
        var objectLock = await s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = vault.Name }, Ct);

        put.HttpStatusCode.ShouldBe(HttpStatusCode.OK);
        put.VersionId.ShouldStartWith("vrc");
        second.VersionId.ShouldNotBe(put.VersionId);
        currentText.ShouldBe("day,amount\n1,200\n");
        current.VersionId.ShouldBe(second.VersionId);
        current.ETag.ShouldBe(second.ETag);
        firstText.ShouldBe("day,amount\n1,100\n");
        head.ContentLength.ShouldBe(17);
        head.VersionId.ShouldBe(second.VersionId);
        head.ObjectLockLegalHoldStatus.ShouldBe(ObjectLockLegalHoldStatus.Off);
        versioning.VersioningConfig.Status.ShouldBe(VersionStatus.Enabled);
        objectLock.ObjectLockConfiguration.ObjectLockEnabled.ShouldBe(ObjectLockEnabled.Enabled);

        var deleted = await s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = vault.Name, Key = "2026/q1/ledger.csv", VersionId = second.VersionId }, Ct);
        using var previous = await s3.GetObjectAsync(vault.Name, "2026/q1/ledger.csv", Ct);
        (await ContentAsync(previous)).ShouldBe("day,amount\n1,100\n");
        deleted.HttpStatusCode.ShouldBe(HttpStatusCode.NoContent);
        await s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = vault.Name, Key = "2026/q1/ledger.csv", VersionId = put.VersionId }, Ct);
        var missing = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectAsync(vault.Name, "2026/q1/ledger.csv", Ct));
        missing.ErrorCode.ShouldBe("NoSuchKey");
        missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Put_WithAWrongContentMd5OrSha256_IsBadDigest_AndKeepsNothing()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;

        var md5 = await Should.ThrowAsync<AmazonS3Exception>(() => s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = vault.Name, Key = "a.txt", ContentBody = "hello", MD5Digest = Convert.ToBase64String(new byte[16]),
        }, Ct));
        var sha = await Should.ThrowAsync<AmazonS3Exception>(() => s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = vault.Name, Key = "a.txt", ContentBody = "hello", ChecksumSHA256 = Convert.ToBase64String(new byte[32]),
        }, Ct));
        var good = await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = vault.Name, Key = "a.txt", ContentBody = "hello",
            ChecksumSHA256 = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData("hello"u8)),
#pragma warning disable CA5351 // Content-MD5 is S3's integrity header, not a security measure.
            MD5Digest = Convert.ToBase64String(System.Security.Cryptography.MD5.HashData("hello"u8)),
#pragma warning restore CA5351
        }, Ct);
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct);

        md5.ErrorCode.ShouldBe("BadDigest");
        sha.ErrorCode.ShouldBe("BadDigest");
        good.HttpStatusCode.ShouldBe(HttpStatusCode.OK);
        listed.S3Objects.Select(o => o.Key).ShouldBe(["a.txt"]);
        listed.S3Objects[0].Size.ShouldBe(5);
    }

    [Fact]
    public async Task Delete_OfAComplianceLockedVersion_IsAccessDenied_EvenWithTheBypass()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        await tenant.Client.ClassAsync(vault.Id, "sox", "P7Y", RetentionMode.Compliance);
        var record = await tenant.Client.RecordAsync(vault.Id, "q4.pdf", "report"u8.ToArray(), "sox");

        var head = await s3.GetObjectMetadataAsync(vault.Name, "q4.pdf", Ct);
        var refused = await Should.ThrowAsync<AmazonS3Exception>(() => s3.DeleteObjectAsync(new DeleteObjectRequest
        {
            BucketName = vault.Name, Key = "q4.pdf", VersionId = record.Id, BypassGovernanceRetention = true,
        }, Ct));
        using var still = await s3.GetObjectAsync(vault.Name, "q4.pdf", Ct);

        head.ObjectLockMode.ShouldBe(ObjectLockMode.Compliance);
        head.ObjectLockRetainUntilDate!.Value.ToUniversalTime().ShouldBe(record.RetainUntil!.Value.UtcDateTime, TimeSpan.FromSeconds(1));
        refused.ErrorCode.ShouldBe("AccessDenied");
        refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await ContentAsync(still)).ShouldBe("report");
    }

    [Fact]
    public async Task Delete_OfAGovernanceLockedVersion_NeedsTheBypassHeader()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        await tenant.Client.ClassAsync(vault.Id, "public", "P1Y", RetentionMode.Governance);
        var record = await tenant.Client.RecordAsync(vault.Id, "notes.txt", "public notes"u8.ToArray(), "public");

        var refused = await Should.ThrowAsync<AmazonS3Exception>(() => s3.DeleteObjectAsync(new DeleteObjectRequest
        {
            BucketName = vault.Name, Key = "notes.txt", VersionId = record.Id,
        }, Ct));
        var bypassed = await s3.DeleteObjectAsync(new DeleteObjectRequest
        {
            BucketName = vault.Name, Key = "notes.txt", VersionId = record.Id, BypassGovernanceRetention = true,
        }, Ct);
        var gone = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectMetadataAsync(vault.Name, "notes.txt", Ct));

        refused.ErrorCode.ShouldBe("AccessDenied");
        bypassed.HttpStatusCode.ShouldBe(HttpStatusCode.NoContent);
        gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ListObjectsV2_PagesByPrefixDelimiterAndContinuation()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;
        string[] keys = ["a/1", "a/2", "b/x/1", "b/y", "c", "d", "e"];
        foreach (var key in keys)
        {
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = key, ContentBody = key }, Ct);
        }

        var rolled = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name, Delimiter = "/" }, Ct);
        var underB = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name, Prefix = "b/", Delimiter = "/" }, Ct);
        var seen = new List<string>();
        var request = new ListObjectsV2Request { BucketName = vault.Name, MaxKeys = 2, Delimiter = "/" };
        var pages = 0;
        while (true)
        {
            var page = await s3.ListObjectsV2Async(request, Ct);
            pages++;
            seen.AddRange((page.CommonPrefixes ?? []).Concat((page.S3Objects ?? []).Select(o => o.Key)));
            if (page.IsTruncated != true)
            {
                break;
            }
            request.ContinuationToken = page.NextContinuationToken;
        }

        rolled.CommonPrefixes.ShouldBe(["a/", "b/"]);
        rolled.S3Objects.Select(o => o.Key).ShouldBe(["c", "d", "e"]);
        rolled.KeyCount.ShouldBe(5);
        underB.CommonPrefixes.ShouldBe(["b/x/"]);
        underB.S3Objects.Select(o => o.Key).ShouldBe(["b/y"]);
        seen.Order(StringComparer.Ordinal).ShouldBe(["a/", "b/", "c", "d", "e"]);
        pages.ShouldBe(3);
    }

    [Fact]
    public async Task AnotherAccountsKey_GetsNoSuchBucket_ForEveryObjectOperation()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;
        var put = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "secret.txt", ContentBody = "mine" }, Ct);
        var (_, _, strangerKey) = await app.AccountWithKeyAsync();
        using var stranger = app.S3Client(strangerKey.Id, strangerKey.Secret);

        var errors = new[]
        {
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.GetObjectAsync(vault.Name, "secret.txt", Ct)),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "secret.txt", ContentBody = "theirs" }, Ct)),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.DeleteObjectAsync(new DeleteObjectRequest { BucketName = vault.Name, Key = "secret.txt", VersionId = put.VersionId }, Ct)),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct)),
        };
        using var mine = await s3.GetObjectAsync(vault.Name, "secret.txt", Ct);

        errors.Select(e => e.ErrorCode).ShouldAllBe(code => code == "NoSuchBucket");
        (await ContentAsync(mine)).ShouldBe("mine");
    }

    [Fact]
    public async Task BadInput_GetsS3Errors_NeverA500()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "kept.txt", ContentBody = "kept" }, Ct);

        var badVersion = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectAsync(new GetObjectRequest { BucketName = vault.Name, Key = "kept.txt", VersionId = "nope" }, Ct));
        var otherVersion = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectAsync(new GetObjectRequest
        {
            BucketName = vault.Name, Key = "kept.txt", VersionId = "vrc_01h00000000000000000000000",
        }, Ct));
        var badToken = await Should.ThrowAsync<AmazonS3Exception>(() => s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name, ContinuationToken = "!!!" }, Ct));
        var badDelete = await Should.ThrowAsync<AmazonS3Exception>(() => s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = vault.Name, Key = "kept.txt", VersionId = "nope" }, Ct));
        using var still = await s3.GetObjectAsync(vault.Name, "kept.txt", Ct);

        badVersion.ErrorCode.ShouldBe("InvalidArgument");
        badVersion.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        otherVersion.ErrorCode.ShouldBe("NoSuchVersion");
        badToken.ErrorCode.ShouldBe("InvalidArgument");
        badDelete.ErrorCode.ShouldBe("InvalidArgument");
        (await ContentAsync(still)).ShouldBe("kept");
    }

    [Fact]
    public async Task AwsCli_CopiesUpAndDown_AndListsTheBucket()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        var dir = Welkin.Testing.TempDirectories.NewPath("welkin-s3cp-");
        Directory.CreateDirectory(dir);
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(200_000);
        await File.WriteAllBytesAsync(Path.Combine(dir, "up.bin"), bytes, Ct);
        try
        {
            var up = await AwsAsync(key, "s3", "cp", Path.Combine(dir, "up.bin"), $"s3://{vault.Name}/backups/up.bin");
            var down = await AwsAsync(key, "s3", "cp", $"s3://{vault.Name}/backups/up.bin", Path.Combine(dir, "down.bin"));
            var root = await AwsAsync(key, "s3", "ls", $"s3://{vault.Name}");
            var deep = await AwsAsync(key, "s3", "ls", $"s3://{vault.Name}/backups/");

            up.Exit.ShouldBe(0, up.Err);
            down.Exit.ShouldBe(0, down.Err);
            (await File.ReadAllBytesAsync(Path.Combine(dir, "down.bin"), Ct)).ShouldBe(bytes);
            root.Exit.ShouldBe(0, root.Err);
            root.Out.ShouldContain("PRE backups/");
            deep.Out.ShouldContain("200000 up.bin");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task AwsCli_CopiesBetweenBuckets_RemovesWithAMarker_AndListsTheVersions()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        var archive = await (await tenant.Client.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(tenant.Contract.Id, 100, "archive"), WelkinJson.Client, Ct))
            .ReadAsync<VaultView>(HttpStatusCode.Created);
        var record = await tenant.Client.RecordAsync(vault.Id, "2026/ledger.csv", "day,amount\n1,100\n"u8.ToArray());
        await tenant.Client.RecordAsync(vault.Id, "tmp/a.txt", "a"u8.ToArray());
        await tenant.Client.RecordAsync(vault.Id, "tmp/b.txt", "b"u8.ToArray());

        var copied = await AwsAsync(key, "s3", "cp", $"s3://{vault.Name}/2026/ledger.csv", $"s3://{archive.Name}/copies/ledger.csv");
        var removed = await AwsAsync(key, "s3", "rm", $"s3://{vault.Name}/2026/ledger.csv");
        var listed = await AwsAsync(key, "s3", "ls", $"s3://{vault.Name}/2026/");
        var versions = await AwsAsync(key, "s3api", "list-object-versions", "--bucket", vault.Name, "--prefix", "2026/", "--output", "json");
        var archived = await AwsAsync(key, "s3", "ls", $"s3://{archive.Name}/copies/");
        var removedAll = await AwsAsync(key, "s3", "rm", "--recursive", $"s3://{vault.Name}/tmp/");
        var tmp = await AwsAsync(key, "s3", "ls", $"s3://{vault.Name}/tmp/");

        copied.Exit.ShouldBe(0, copied.Err);
        removed.Exit.ShouldBe(0, removed.Err);
        listed.Out.ShouldNotContain("ledger.csv");
        versions.Exit.ShouldBe(0, versions.Err);
        using var document = System.Text.Json.JsonDocument.Parse(versions.Out);
        var root = document.RootElement;
        root.GetProperty("Versions").EnumerateArray().Select(v => (v.GetProperty("VersionId").GetString(), v.GetProperty("IsLatest").GetBoolean()))
            .ShouldBe([(record.Id, false)]);
        var marker = root.GetProperty("DeleteMarkers").EnumerateArray().Single();
        (marker.GetProperty("Key").GetString(), marker.GetProperty("IsLatest").GetBoolean()).ShouldBe(("2026/ledger.csv", true));
        archived.Out.ShouldContain("17 ledger.csv");
        removedAll.Exit.ShouldBe(0, removedAll.Err);
        removedAll.Out.ShouldContain("delete: s3://" + vault.Name + "/tmp/b.txt");
        tmp.Out.ShouldNotContain(".txt");
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
}
