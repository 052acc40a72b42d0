using System.Net;
using System.Net.Http.Json;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Vault;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// CopyObject within and across the caller's buckets (never another account's), and range reads that
/// decrypt only the chunks they need yet never give bytes a damaged blob does not authenticate.
/// </summary>
public sealed class S3CopyRangeTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ConfigurationApi.Tenant Tenant, VaultView Vault, AmazonS3Client S3, IssuedAccessKey Key)> BucketAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        return (tenant, vault, app.S3Client(key.Id, key.Secret, checksumsWhenRequired: true), key);
    }

    private static async Task<byte[]> BytesAsync(GetObjectResponse response)
    {
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    [Fact]
    public async Task CopyObject_WithinAndAcrossOwnBuckets_WritesANewVersion_WithoutTheSourcesRetention()
    {
        var (tenant, vault, s3, _) = await BucketAsync();
        using var _ = s3;
        var archive = await (await tenant.Client.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(tenant.Contract.Id, 100, "archive"), WelkinJson.Client, Ct))
            .ReadAsync<VaultView>(HttpStatusCode.Created);
        await tenant.Client.ClassAsync(vault.Id, "sox", "P7Y", RetentionMode.Compliance);
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(150_000);
        var source = await tenant.Client.RecordAsync(vault.Id, "q4.bin", bytes, "sox");
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "q4.bin", ContentBody = "newer" }, Ct);

        var within = await s3.CopyObjectAsync(new CopyObjectRequest
        {
            SourceBucket = vault.Name, SourceKey = "q4.bin", SourceVersionId = source.Id, DestinationBucket = vault.Name, DestinationKey = "copies/q4.bin",
        }, Ct);
        var across = await s3.CopyObjectAsync(new CopyObjectRequest
        {
            SourceBucket = vault.Name, SourceKey = "copies/q4.bin", DestinationBucket = archive.Name, DestinationKey = "2026/q4.bin",
        }, Ct);
        using var copied = await s3.GetObjectAsync(archive.Name, "2026/q4.bin", Ct);
        var copiedBytes = await BytesAsync(copied);
        var head = await s3.GetObjectMetadataAsync(vault.Name, "copies/q4.bin", Ct);
        var deleted = await s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = vault.Name, Key = "copies/q4.bin", VersionId = within.VersionId }, Ct);

        within.SourceVersionId.ShouldBe(source.Id);
        within.VersionId.ShouldStartWith("vrc");
        within.ETag.ShouldBe("\"" + source.Sha256[..32] + "-1\"");
        across.ETag.ShouldBe(within.ETag);
        copiedBytes.ShouldBe(bytes);
        head.ObjectLockMode.ShouldBeNull();
        deleted.HttpStatusCode.ShouldBe(HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task CopyObject_WithLockHeaders_RetainsTheCopy_AsAPutObjectWould()
    {
        var (_, vault, s3, _) = await BucketAsync();
        using var _ = s3;
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "plain.csv", ContentBody = "a,b" }, Ct);
        var until = DateTime.UtcNow.AddDays(30);

        var copy = await s3.CopyObjectAsync(new CopyObjectRequest
        {
            SourceBucket = vault.Name, SourceKey = "plain.csv", DestinationBucket = vault.Name, DestinationKey = "kept.csv",
            ObjectLockMode = ObjectLockMode.Compliance, ObjectLockRetainUntilDate = until,
        }, Ct);
        var head = await s3.GetObjectMetadataAsync(vault.Name, "kept.csv", Ct);
        var delete = await Should.ThrowAsync<AmazonS3Exception>(() =>
            s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = vault.Name, Key = "kept.csv", VersionId = copy.VersionId }, Ct));
        var bad = await Should.ThrowAsync<AmazonS3Exception>(() => s3.CopyObjectAsync(new CopyObjectRequest
        {
            SourceBucket = vault.Name, SourceKey = "plain.csv", DestinationBucket = vault.Name, DestinationKey = "bad.csv",
            ObjectLockMode = ObjectLockMode.Governance,
        }, Ct));

        head.ObjectLockMode.ShouldBe(ObjectLockMode.Compliance);
        head.ObjectLockRetainUntilDate!.Value.ToUniversalTime().ShouldBe(until, TimeSpan.FromSeconds(1));
        delete.ErrorCode.ShouldBe("AccessDenied");
        bad.ErrorCode.ShouldBe("InvalidRequest");
    }

    [Fact]
    public async Task CopyObject_FromAnotherAccountsBucket_IsNoSuchBucket_AndOntoItselfIsInvalidRequest()
    {
        var (_, vault, s3, _) = await BucketAsync();
        using var _ = s3;
        var (strangerTenant, _, stranger, _) = await BucketAsync();
        using var __ = stranger;
        var theirs = await (await strangerTenant.Client.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(strangerTenant.Contract.Id, 100, "theirs"), WelkinJson.Client, Ct))
            .ReadAsync<VaultView>(HttpStatusCode.Created);
        await stranger.PutObjectAsync(new PutObjectRequest { BucketName = theirs.Name, Key = "secret.txt", ContentBody = "theirs" }, Ct);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "mine.txt", ContentBody = "mine" }, Ct);
        var marker = await s3.DeleteObjectAsync(vault.Name, "gone.txt", Ct);

        var foreign = await Should.ThrowAsync<AmazonS3Exception>(() => s3.CopyObjectAsync(theirs.Name, "secret.txt", vault.Name, "stolen.txt", Ct));
        var itself = await Should.ThrowAsync<AmazonS3Exception>(() => s3.CopyObjectAsync(vault.Name, "mine.txt", vault.Name, "mine.txt", Ct));
        var missing = await Should.ThrowAsync<AmazonS3Exception>(() => s3.CopyObjectAsync(vault.Name, "nothing.txt", vault.Name, "x.txt", Ct));
        var ofMarker = await Should.ThrowAsync<AmazonS3Exception>(() => s3.CopyObjectAsync(new CopyObjectRequest
        {
            SourceBucket = vault.Name, SourceKey = "gone.txt", SourceVersionId = marker.VersionId, DestinationBucket = vault.Name, DestinationKey = "x.txt",
        }, Ct));
        var precondition = await Should.ThrowAsync<AmazonS3Exception>(() => s3.CopyObjectAsync(new CopyObjectRequest
        {
            SourceBucket = vault.Name, SourceKey = "mine.txt", DestinationBucket = vault.Name, DestinationKey = "x.txt", ETagToMatch = "\"0123\"",
        }, Ct));
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct);

        foreign.ErrorCode.ShouldBe("NoSuchBucket");
        itself.ErrorCode.ShouldBe("InvalidRequest");
        missing.ErrorCode.ShouldBe("NoSuchKey");
        ofMarker.ErrorCode.ShouldBe("InvalidRequest");
        precondition.StatusCode.ShouldBe(HttpStatusCode.PreconditionFailed);
        listed.S3Objects.Select(o => o.Key).ShouldBe(["mine.txt"]);
    }

    [Fact]
    public async Task GetObject_WithARange_AnswersThoseBytes_AcrossChunks()
    {
        var (_, vault, s3, key) = await BucketAsync();
        using var _ = s3;
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(200_000);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "big.bin", InputStream = new MemoryStream(bytes) }, Ct);

        using var middle = await s3.GetObjectAsync(new GetObjectRequest { BucketName = vault.Name, Key = "big.bin", ByteRange = new Amazon.S3.Model.ByteRange(65_000, 140_000) }, Ct);
        var middleBytes = await BytesAsync(middle);
        using var client = app.Raw();
        using var suffix = await client.SendAsync(Ranged(vault.Name, key, "bytes=-1000"), Ct);
        using var open = await client.SendAsync(Ranged(vault.Name, key, "bytes=196608-"), Ct);
        using var beyond = await client.SendAsync(Ranged(vault.Name, key, "bytes=200000-"), Ct);
        using var ignored = await client.SendAsync(Ranged(vault.Name, key, "bytes=5-1"), Ct);

        middle.HttpStatusCode.ShouldBe(HttpStatusCode.PartialContent);
        middle.ContentRange.ShouldBe("bytes 65000-140000/200000");
        middleBytes.ShouldBe(bytes[65_000..140_001]);
        suffix.StatusCode.ShouldBe(HttpStatusCode.PartialContent);
        (await suffix.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(bytes[^1000..]);
        suffix.Content.Headers.ContentRange!.ToString().ShouldBe("bytes 199000-199999/200000");
        (await open.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(bytes[196_608..]);
        beyond.StatusCode.ShouldBe(HttpStatusCode.RequestedRangeNotSatisfiable);
        (await beyond.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>InvalidRange</Code>");
        ignored.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await ignored.Content.ReadAsByteArrayAsync(Ct)).Length.ShouldBe(200_000);
    }

    [Fact]
    public async Task GetObject_OfADamagedBlob_IsAnError_NeverWrongBytes_WholeOrRanged()
    {
        var (_, vault, s3, key) = await BucketAsync();
        using var _ = s3;
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(200_000);
        var put = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "big.bin", InputStream = new MemoryStream(bytes) }, Ct);
        var path = RecordService.BlobPath(app.Services.GetRequiredService<VaultOptions>(), vault.Id, put.VersionId);
        var blob = await File.ReadAllBytesAsync(path, Ct);
        // A byte of the second chunk's ciphertext.
        blob[VaultCipher.HeaderBytes + VaultCipher.DefaultChunkBytes + VaultCipher.TagBytes + 10] ^= 0x01;
        await File.WriteAllBytesAsync(path, blob, Ct);
        using var client = app.Raw();

        using var intact = await client.SendAsync(Ranged(vault.Name, key, "bytes=0-999"), Ct);
        using var damaged = await client.SendAsync(Ranged(vault.Name, key, "bytes=70000-70999"), Ct);
        var whole = await ReadWholeAsync(client, vault.Name, key);

        intact.StatusCode.ShouldBe(HttpStatusCode.PartialContent);
        (await intact.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(bytes[..1000]);
        damaged.StatusCode.ShouldBe(HttpStatusCode.InternalServerError);
        (await damaged.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>InternalError</Code>");
        whole.ShouldBeNull();
    }

    /// <summary>The whole object's bytes, or null when the read failed (a damaged chunk past the first cuts the connection).</summary>
    private async Task<byte[]?> ReadWholeAsync(HttpClient client, string bucket, IssuedAccessKey key)
    {
        try
        {
            using var response = await client.SendAsync(HandSigned.Request(app.S3Endpoint, "GET", $"/{bucket}/big.bin", "", key.Id, key.Secret), Ct);
            var read = await response.Content.ReadAsByteArrayAsync(Ct);
            return response.IsSuccessStatusCode ? read : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private HttpRequestMessage Ranged(string bucket, IssuedAccessKey key, string range)
    {
        var request = HandSigned.Request(app.S3Endpoint, "GET", $"/{bucket}/big.bin", "", key.Id, key.Secret);
        request.Headers.TryAddWithoutValidation("Range", range);
        return request;
    }
}
