using System.Net;
using System.Net.Http.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Vault;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// Delete markers, ListObjectVersions and DeleteObjects over the cloud's vaults with AWSSDK.S3: a
/// delete without a version hides the key behind a marker that holds nothing and deleting the marker
/// brings the key back; the versions list in S3's order and pages; DeleteObjects deletes per key, the
/// locked ones refused one by one.
/// </summary>
public sealed class S3VersionTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ConfigurationApi.Tenant Tenant, VaultView Vault, AmazonS3Client S3, IssuedAccessKey Key)> BucketAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        return (tenant, vault, app.S3Client(key.Id, key.Secret, checksumsWhenRequired: true), key);
    }

    private static async Task<string> ContentAsync(GetObjectResponse response)
    {
        using var reader = new StreamReader(response.ResponseStream);
        return await reader.ReadToEndAsync(Ct);
    }

    [Fact]
    public async Task DeleteWithoutVersion_AddsADeleteMarker_AndDeletingTheMarkerBringsTheKeyBack()
    {
        var (tenant, vault, s3, key) = await BucketAsync();
        using var _ = s3;
        var put = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "ledger.csv", ContentBody = "day,amount\n" }, Ct);
        var before = await tenant.Client.GetFromJsonAsync<VaultView>($"/api/v1/vaults/{vault.Id}", WelkinJson.Client, Ct);

        var deleted = await s3.DeleteObjectAsync(vault.Name, "ledger.csv", Ct);
        var get = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectAsync(vault.Name, "ledger.csv", Ct));
        using var client = app.Raw();
        using var head = await client.SendAsync(HandSigned.Request(app.S3Endpoint, "HEAD", $"/{vault.Name}/ledger.csv", "", key.Id, key.Secret), Ct);
        using var ofMarker = await client.SendAsync(HandSigned.Request(app.S3Endpoint, "GET", $"/{vault.Name}/ledger.csv", "versionId=" + deleted.VersionId, key.Id, key.Secret), Ct);
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct);
        var versions = await s3.ListVersionsAsync(new ListVersionsRequest { BucketName = vault.Name }, Ct);
        var records = await tenant.Client.GetFromJsonAsync<Page<VaultRecordView>>($"/api/v1/vaults/{vault.Id}/records?shredded=true", WelkinJson.Client, Ct);
        var after = await tenant.Client.GetFromJsonAsync<VaultView>($"/api/v1/vaults/{vault.Id}", WelkinJson.Client, Ct);

        deleted.HttpStatusCode.ShouldBe(HttpStatusCode.NoContent);
        deleted.DeleteMarker.ShouldBe("true");
        deleted.VersionId.ShouldNotBe(put.VersionId);
        get.ErrorCode.ShouldBe("NoSuchKey");
        head.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        head.Headers.GetValues("x-amz-delete-marker").ShouldBe(["true"]);
        head.Headers.GetValues("x-amz-version-id").ShouldBe([deleted.VersionId]);
        ofMarker.StatusCode.ShouldBe(HttpStatusCode.MethodNotAllowed);
        (await ofMarker.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>MethodNotAllowed</Code>");
        ofMarker.Headers.GetValues("x-amz-delete-marker").ShouldBe(["true"]);
        listed.S3Objects.ShouldBeNull();
        versions.Versions.Select(v => (v.Key, v.VersionId, v.IsDeleteMarker ?? false, v.IsLatest ?? false)).ShouldBe(
            [("ledger.csv", deleted.VersionId, true, true), ("ledger.csv", put.VersionId, false, false)]);
        records!.Items.Select(r => r.Id).ShouldBe([put.VersionId]);
        (after!.StoredBytes, after.Records).ShouldBe((before!.StoredBytes, before.Records));

        var unmarked = await s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = vault.Name, Key = "ledger.csv", VersionId = deleted.VersionId }, Ct);
        using var back = await s3.GetObjectAsync(vault.Name, "ledger.csv", Ct);

        unmarked.DeleteMarker.ShouldBe("true");
        unmarked.VersionId.ShouldBe(deleted.VersionId);
        back.VersionId.ShouldBe(put.VersionId);
        (await ContentAsync(back)).ShouldBe("day,amount\n");
    }

    [Fact]
    public async Task DeleteMarkers_AreAudited_AndInvisibleToTheApisRecordViews()
    {
        var (tenant, vault, s3, _) = await BucketAsync();
        using var _ = s3;
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "k", ContentBody = "v" }, Ct);

        var marker = await s3.DeleteObjectAsync(vault.Name, "k", Ct);
        var asRecord = await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/records/{marker.VersionId}", Ct);
        var destroy = await tenant.Client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{marker.VersionId}", Ct);
        await s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = vault.Name, Key = "k", VersionId = marker.VersionId }, Ct);
        var audit = await tenant.Client.GetStringAsync("/api/v1/audit?limit=1000", Ct);

        asRecord.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        destroy.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        audit.ShouldContain(marker.VersionId);
        audit.ShouldContain("vault.record.delete-marker\"");
        audit.ShouldContain("vault.record.delete-marker-remove");
    }

    [Fact]
    public async Task DeleteMarkers_HoldNoKey_SoKeyRotationTheSweepAndTheSoxReportPassThemBy()
    {
        var (tenant, vault, s3, _) = await BucketAsync();
        using var _ = s3;
        var put = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "k", ContentBody = "kept" }, Ct);
        await s3.DeleteObjectAsync(vault.Name, "k", Ct);
        await s3.DeleteObjectAsync(vault.Name, "never-written", Ct);

        var rotated = await (await tenant.Client.PostAsync("/api/v1/vault-keys/rotate", null, Ct)).ReadAsync<VaultKeyRotationView>();
        await app.Services.GetRequiredService<RecordDestruction>().SweepAsync(Ct);
        var report = await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/sox-report", Ct);
        using var version = await s3.GetObjectAsync(new GetObjectRequest { BucketName = vault.Name, Key = "k", VersionId = put.VersionId }, Ct);

        rotated.Rewrapped.ShouldBe(1);
        report.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await ContentAsync(version)).ShouldBe("kept");
    }

    [Fact]
    public async Task ListObjectVersions_ListsByKeyNewestFirst_AndPagesWithKeyAndVersionMarkers()
    {
        var (_, vault, s3, _) = await BucketAsync();
        using var _ = s3;
        var a1 = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "a/1", ContentBody = "one" }, Ct);
        var a1b = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "a/1", ContentBody = "two" }, Ct);
        var a2 = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "a/2", ContentBody = "three" }, Ct);
        var b = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "b", ContentBody = "four" }, Ct);
        var bMarker = await s3.DeleteObjectAsync(vault.Name, "b", Ct);
        var c = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "c", ContentBody = "five" }, Ct);

        var all = await s3.ListVersionsAsync(new ListVersionsRequest { BucketName = vault.Name }, Ct);
        var rolled = await s3.ListVersionsAsync(new ListVersionsRequest { BucketName = vault.Name, Delimiter = "/" }, Ct);
        var seen = new List<(string, string, bool)>();
        var request = new ListVersionsRequest { BucketName = vault.Name, MaxKeys = 2 };
        var pages = 0;
        while (true)
        {
            var page = await s3.ListVersionsAsync(request, Ct);
            pages++;
            seen.AddRange(page.Versions.Select(v => (v.Key, v.VersionId, v.IsLatest ?? false)));
            if (page.IsTruncated != true)
            {
                break;
            }
            (request.KeyMarker, request.VersionIdMarker) = (page.NextKeyMarker, page.NextVersionIdMarker);
        }

        all.Versions.Select(v => (v.Key, v.VersionId, v.IsLatest ?? false, v.IsDeleteMarker ?? false)).ShouldBe(
        [
            ("a/1", a1b.VersionId, true, false), ("a/1", a1.VersionId, false, false), ("a/2", a2.VersionId, true, false),
            ("b", bMarker.VersionId, true, true), ("b", b.VersionId, false, false), ("c", c.VersionId, true, false),
        ]);
        all.Versions[0].Size.ShouldBe(3);
        all.Versions[0].ETag.ShouldBe(a1b.ETag);
        rolled.CommonPrefixes.ShouldBe(["a/"]);
        rolled.Versions.Select(v => v.Key).ShouldBe(["b", "b", "c"]);
        seen.ShouldBe(all.Versions.Select(v => (v.Key, v.VersionId, v.IsLatest ?? false)));
        pages.ShouldBe(3);
    }

    [Fact]
    public async Task ListObjectVersions_BadMarkers_AreInvalidArgument()
    {
        var (_, vault, s3, _) = await BucketAsync();
        using var _ = s3;

        var noKeyMarker = await Should.ThrowAsync<AmazonS3Exception>(() => s3.ListVersionsAsync(new ListVersionsRequest
        {
            BucketName = vault.Name, VersionIdMarker = "vrc_01h00000000000000000000000",
        }, Ct));
        var badVersion = await Should.ThrowAsync<AmazonS3Exception>(() => s3.ListVersionsAsync(new ListVersionsRequest
        {
            BucketName = vault.Name, KeyMarker = "a", VersionIdMarker = "../etc",
        }, Ct));

        noKeyMarker.ErrorCode.ShouldBe("InvalidArgument");
        badVersion.ErrorCode.ShouldBe("InvalidArgument");
    }

    [Fact]
    public async Task DeleteObjects_DeletesEachKey_AndRefusesALockedVersionAlone()
    {
        var (tenant, vault, s3, _) = await BucketAsync();
        using var _ = s3;
        await tenant.Client.ClassAsync(vault.Id, "sox", "P7Y", RetentionMode.Compliance);
        var locked = await tenant.Client.RecordAsync(vault.Id, "q4.pdf", "report"u8.ToArray(), "sox");
        var plain = await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "draft.txt", ContentBody = "draft" }, Ct);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "notes.txt", ContentBody = "notes" }, Ct);

        // The SDK throws when any key failed, with the whole answer.
        var result = (await Should.ThrowAsync<DeleteObjectsException>(() => s3.DeleteObjectsAsync(new DeleteObjectsRequest
        {
            BucketName = vault.Name,
            Objects = [new KeyVersion { Key = "q4.pdf", VersionId = locked.Id }, new KeyVersion { Key = "draft.txt", VersionId = plain.VersionId }, new KeyVersion { Key = "notes.txt" }],
        }, Ct))).Response;
        var quiet = await s3.DeleteObjectsAsync(new DeleteObjectsRequest
        {
            BucketName = vault.Name, Quiet = true, Objects = [new KeyVersion { Key = "q4.pdf" }],
        }, Ct);
        var listed = await s3.ListVersionsAsync(new ListVersionsRequest { BucketName = vault.Name }, Ct);

        result.DeletedObjects.Select(d => (d.Key, (string?)d.VersionId, d.DeleteMarker ?? false)).ShouldBe([("draft.txt", plain.VersionId, false), ("notes.txt", null, true)]);
        result.DeletedObjects[1].DeleteMarkerVersionId.ShouldStartWith("vrc");
        result.DeleteErrors.Select(e => (e.Key, e.VersionId, e.Code)).ShouldBe([("q4.pdf", locked.Id, "AccessDenied")]);
        (quiet.DeletedObjects ?? []).ShouldBeEmpty();
        (quiet.DeleteErrors ?? []).ShouldBeEmpty();
        listed.Versions.Where(v => v.IsDeleteMarker != true).Select(v => v.Key).ShouldBe(["notes.txt", "q4.pdf"]);
        listed.Versions.Count(v => v.IsDeleteMarker == true).ShouldBe(2);
    }

    [Fact]
    public async Task DeleteObjects_OfAGovernanceLockedVersion_NeedsTheBypassHeader()
    {
        var (tenant, vault, s3, _) = await BucketAsync();
        using var _ = s3;
        await tenant.Client.ClassAsync(vault.Id, "public", "P1Y", RetentionMode.Governance);
        var locked = await tenant.Client.RecordAsync(vault.Id, "notes.txt", "notes"u8.ToArray(), "public");
        var objects = new List<KeyVersion> { new() { Key = "notes.txt", VersionId = locked.Id } };

        var refused = (await Should.ThrowAsync<DeleteObjectsException>(() => s3.DeleteObjectsAsync(new DeleteObjectsRequest
        {
            BucketName = vault.Name, Objects = objects,
        }, Ct))).Response;
        var bypassed = await s3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = vault.Name, Objects = objects, BypassGovernanceRetention = true }, Ct);
        var gone = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectMetadataAsync(vault.Name, "notes.txt", Ct));

        refused.DeleteErrors.Select(e => e.Code).ShouldBe(["AccessDenied"]);
        bypassed.DeletedObjects.Select(d => d.VersionId).ShouldBe([locked.Id]);
        gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task DeleteObjects_WithoutAnIntegrityHeader_OrWithAWrongOne_DeletesNothing()
    {
        var (_, vault, s3, key) = await BucketAsync();
        using var _ = s3;
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = vault.Name, Key = "kept.txt", ContentBody = "kept" }, Ct);
        var body = "<Delete><Object><Key>kept.txt</Key></Object></Delete>"u8.ToArray();
        using var client = app.Raw();

        using var missing = await client.SendAsync(HandSigned.Request(app.S3Endpoint, "POST", $"/{vault.Name}", "delete", key.Id, key.Secret, body), Ct);
        using var wrong = await client.SendAsync(HandSigned.Request(app.S3Endpoint, "POST", $"/{vault.Name}", "delete", key.Id, key.Secret, body,
            new() { ["x-amz-checksum-crc32"] = "AAAAAA==" }), Ct);
        using var tooMany = await client.SendAsync(HandSigned.Request(app.S3Endpoint, "POST", $"/{vault.Name}", "delete", key.Id, key.Secret,
            TooManyKeys(out var crc), new() { ["x-amz-checksum-crc32"] = crc }), Ct);
        using var still = await s3.GetObjectAsync(vault.Name, "kept.txt", Ct);

        missing.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await missing.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>InvalidRequest</Code>");
        wrong.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await wrong.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>BadDigest</Code>");
        tooMany.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await tooMany.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>MalformedXML</Code>");
        (await ContentAsync(still)).ShouldBe("kept");
    }

    private static byte[] TooManyKeys(out string crc32)
    {
        var xml = "<Delete>" + string.Concat(Enumerable.Range(0, 1001).Select(i => $"<Object><Key>k{i}</Key></Object>")) + "</Delete>";
        var bytes = System.Text.Encoding.UTF8.GetBytes(xml);
        using var checksum = Welkin.Server.S3.S3Checksum.For("x-amz-checksum-crc32")!;
        checksum.Append(bytes);
        crc32 = checksum.Value();
        return bytes;
    }
}
