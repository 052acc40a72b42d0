using System.Net;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Vault;
using Welkin.Server.Tests.Vault;
using Welkin.Testing;

namespace Welkin.Server.Tests.S3;

/// <summary>The S3 face over the vaults on a fake clock (the signatures still use the wall clock), with records of at most 12 MiB.</summary>
public sealed class S3ClockedVaultApp : S3App
{
    public const long MaxRecordBytes = 12 * 1024 * 1024;

    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    protected override bool TestBucketStore => false;

    protected override TimeProvider ServerClock => Clock;

    // The periodic sweep stays out of the way: the tests call the upload sweep themselves.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["Vault:MaxRecordBytes"] = MaxRecordBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Vault:SweepInterval"] = "30.00:00:00",
    };
}

/// <summary>Stale multipart uploads expire after Vault:UploadExpiry, and an upload's parts together respect Vault:MaxRecordBytes.</summary>
public sealed class S3UploadExpiryTests(S3ClockedVaultApp app) : IClassFixture<S3ClockedVaultApp>
{
    private const int MiB = 1024 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(VaultView Vault, AmazonS3Client S3)> BucketAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        return (vault, new AmazonS3Client(new BasicAWSCredentials(key.Id, key.Secret), new AmazonS3Config
        {
            ServiceURL = app.S3Endpoint.AbsoluteUri,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            MaxErrorRetry = 0,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        }));
    }

    private static Task<UploadPartResponse> PartAsync(AmazonS3Client s3, string bucket, string key, string uploadId, int number, int bytes) =>
        s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = bucket, Key = key, UploadId = uploadId, PartNumber = number, InputStream = new MemoryStream(RandomNumberGenerator.GetBytes(bytes)),
        }, Ct);

    [Fact]
    public async Task Upload_WithoutANewPartForTheExpiry_IsAbortedByTheSweep_WithItsPartsAndKey()
    {
        var (vault, s3) = await BucketAsync();
        using var _ = s3;
        var stale = await s3.InitiateMultipartUploadAsync(vault.Name, "stale.bin", Ct);
        await PartAsync(s3, vault.Name, "stale.bin", stale.UploadId, 1, 1000);
        var partsDir = Path.Combine(app.DataDir, "vault", "uploads", vault.Id, stale.UploadId);
        var keyFile = Path.Combine(app.DataDir, "vault", "keys", vault.Id, stale.UploadId + ".key");
        var hadFiles = Directory.Exists(partsDir) && File.Exists(keyFile);

        app.Clock.Advance(TimeSpan.FromDays(6));
        var fresh = await s3.InitiateMultipartUploadAsync(vault.Name, "fresh.bin", Ct);
        app.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
        var expired = await app.Services.GetRequiredService<RecordUploads>().SweepAsync(Ct);
        var gone = await Should.ThrowAsync<AmazonS3Exception>(() =>
            s3.ListPartsAsync(new ListPartsRequest { BucketName = vault.Name, Key = "stale.bin", UploadId = stale.UploadId }, Ct));
        var open = await s3.ListMultipartUploadsAsync(vault.Name, Ct);
        using var admin = app.Admin();
        var audit = await (await admin.GetAsync($"/api/v1/audit?accountId={vault.AccountId}&limit=500", Ct)).ReadAsync<Page<AuditEntryView>>();

        hadFiles.ShouldBeTrue();
        expired.ShouldBeGreaterThanOrEqualTo(1);
        gone.ErrorCode.ShouldBe("NoSuchUpload");
        gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        open.MultipartUploads.Select(u => u.UploadId).ShouldBe([fresh.UploadId]);
        Directory.Exists(partsDir).ShouldBeFalse();
        File.Exists(keyFile).ShouldBeFalse();
        audit.Items.ShouldContain(e => e.Action == "vault.upload.expire" && e.Target == stale.UploadId);
    }

    [Fact]
    public async Task Parts_TogetherOverMaxRecordBytes_AreEntityTooLarge_AndTheEarlierPartsStay()
    {
        var (vault, s3) = await BucketAsync();
        using var _ = s3;
        var upload = await s3.InitiateMultipartUploadAsync(vault.Name, "big.bin", Ct);
        await PartAsync(s3, vault.Name, "big.bin", upload.UploadId, 1, 5 * MiB);
        await PartAsync(s3, vault.Name, "big.bin", upload.UploadId, 2, 5 * MiB);

        var third = await Should.ThrowAsync<AmazonS3Exception>(() => PartAsync(s3, vault.Name, "big.bin", upload.UploadId, 3, 3 * MiB));
        var alone = await Should.ThrowAsync<AmazonS3Exception>(() => PartAsync(s3, vault.Name, "big.bin", upload.UploadId, 4, (int)S3ClockedVaultApp.MaxRecordBytes + 1));
        var parts = await s3.ListPartsAsync(new ListPartsRequest { BucketName = vault.Name, Key = "big.bin", UploadId = upload.UploadId }, Ct);

        third.ErrorCode.ShouldBe("EntityTooLarge");
        alone.ErrorCode.ShouldBe("EntityTooLarge");
        parts.Parts.Select(p => p.PartNumber).ShouldBe([1, 2]);
    }
}
