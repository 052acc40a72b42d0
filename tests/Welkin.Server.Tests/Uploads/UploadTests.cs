using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Uploads;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Uploads;

/// <summary>A cloud with small upload limits, so that the tests can reach them.</summary>
public sealed class UploadsApp : WelkinApp
{
    public const long MaxBytes = 4L << 20;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:MaxImageBytes"] = MaxBytes.ToString(CultureInfo.InvariantCulture),
        ["Uploads:MaxPerAccount"] = "3",
        ["Uploads:MaxBytesPerAccount"] = (6L << 20).ToString(CultureInfo.InvariantCulture),
        ["Uploads:MaxImagesPerAccount"] = "1",
    };

    public string PartFile(string id) => Path.Combine(DataDir, "uploads", id + ".part");
}

/// <summary>The upload protocol: chunks appended only at the offset, the digest checked at the end, hostile input refused.</summary>
public sealed class UploadTests(UploadsApp app) : IClassFixture<UploadsApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Chunks_AppendedAtTheOffset_CompleteTheUpload_AndGetAndHeadTellTheOffset()
    {
        var (_, client) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(300_000);
        var upload = await UploadsApi.CreateAsync(client, content);
        upload.State.ShouldBe(UploadState.Receiving);
        upload.ReceivedBytes.ShouldBe(0);
        upload.Expires.ShouldBeGreaterThan(upload.Created);

        var first = await UploadsApi.PutAsync(client, upload.Id, content, 0, 99_999);
        first.Headers.GetValues("Upload-Offset").ShouldBe(["100000"]);
        (await first.ReadAsync<UploadView>()).ReceivedBytes.ShouldBe(100_000);
        var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/api/v1/uploads/{upload.Id}"), Ct);
        head.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        head.Headers.GetValues("Upload-Offset").ShouldBe(["100000"]);
        head.Headers.GetValues("Upload-Length").ShouldBe(["300000"]);
        var get = await client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct);
        get.Headers.GetValues("Upload-Offset").ShouldBe(["100000"]);
        (await get.ReadAsync<UploadView>()).State.ShouldBe(UploadState.Receiving);

        var done = await (await UploadsApi.PutAsync(client, upload.Id, content, 100_000, 299_999)).ReadAsync<UploadView>();

        done.State.ShouldBe(UploadState.Complete);
        done.ReceivedBytes.ShouldBe(300_000);
        (await File.ReadAllBytesAsync(app.PartFile(upload.Id), Ct)).ShouldBe(content);
        var more = await UploadsApi.PutAsync(client, upload.Id, content, 299_999, 299_999);
        await more.ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task OverlappingOrSkippingChunks_AreRefusedWithTheOffset_AndNothingIsStored()
    {
        var (_, client) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(1000);
        var upload = await UploadsApi.CreateAsync(client, content);
        await (await UploadsApi.PutAsync(client, upload.Id, content, 0, 499)).ReadAsync<UploadView>();

        var overlapping = await UploadsApi.PutAsync(client, upload.Id, content, 400, 999);
        var skipping = await UploadsApi.PutAsync(client, upload.Id, content, 600, 999);

        foreach (var refused in new[] { overlapping, skipping })
        {
            var problem = await refused.ProblemAsync(HttpStatusCode.Conflict, "offset-mismatch");
            problem.GetProperty("detail").GetString()!.ShouldContain("has 500 bytes");
            refused.Headers.GetValues("Upload-Offset").ShouldBe(["500"]);
        }
        new FileInfo(app.PartFile(upload.Id)).Length.ShouldBe(500);
        (await (await client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).ReadAsync<UploadView>()).ReceivedBytes.ShouldBe(500);
    }

    [Theory]
    [InlineData("bytes 0-99", "bad-content-range")]
    [InlineData("bytes=0-99/1000", "bad-content-range")]
    [InlineData("bytes 0-99/*", "bad-content-range")]
    [InlineData("bytes */1000", "bad-content-range")]
    [InlineData("bytes 99-0/1000", "bad-content-range")]
    [InlineData("bytes 0-1000/1000", "bad-content-range")]
    [InlineData("bytes 0-99/2000", "bad-content-range")]
    [InlineData("bytes 0-49/1000", "bad-content-range")]
    [InlineData("bytes -1-98/1000", "bad-content-range")]
    [InlineData("bytes 0-99999999999999999999/1000", "bad-content-range")]
    public async Task HostileContentRange_IsRefusedWith400_AndNothingIsStored(string contentRange, string code)
    {
        var (_, client) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(1000);
        var upload = await UploadsApi.CreateAsync(client, content);

        var response = await UploadsApi.PutAsync(client, upload.Id, content, 0, 99, contentRange);

        await response.ProblemAsync(HttpStatusCode.BadRequest, code);
        (await (await client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).ReadAsync<UploadView>()).ReceivedBytes.ShouldBe(0);
    }

    [Fact]
    public async Task MissingRangeOrWrongMediaType_AreRefused()
    {
        var (_, client) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(1000);
        var upload = await UploadsApi.CreateAsync(client, content);

        var noRange = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/uploads/{upload.Id}") { Content = new ByteArrayContent(content) };
        noRange.Content.Headers.ContentType = new("application/octet-stream");
        await (await client.SendAsync(noRange, Ct)).ProblemAsync(HttpStatusCode.BadRequest, "bad-content-range");
        var json = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/uploads/{upload.Id}") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") };
        await (await client.SendAsync(json, Ct)).ProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task Create_RefusesBadDeclarations()
    {
        var (_, client) = await app.SignUpAsync("up");
        var sha = UploadsApi.Sha256([1]);

        await (await UploadsApi.PostCreateAsync(client, 0, sha)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await UploadsApi.PostCreateAsync(client, -5, sha)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await UploadsApi.PostCreateAsync(client, 10, "not-a-digest")).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await UploadsApi.PostCreateAsync(client, UploadsApp.MaxBytes + 1, sha)).ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        (await (await client.GetAsync("/api/v1/uploads", Ct)).ReadAsync<Page<UploadView>>()).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task DigestMismatch_OnTheLastByte_IsRefused_AndTheUploadAndItsBytesAreGone()
    {
        var (_, client) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(2000);
        var upload = await UploadsApi.CreateAsync(client, content);
        await (await UploadsApi.PutAsync(client, upload.Id, content, 0, 999)).ReadAsync<UploadView>();
        content[1500] ^= 0xff;

        var last = await UploadsApi.PutAsync(client, upload.Id, content, 1000, 1999);

        var problem = await last.ProblemAsync(HttpStatusCode.UnprocessableEntity, "digest-mismatch");
        problem.GetProperty("detail").GetString()!.ShouldContain(upload.Sha256);
        await (await client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        File.Exists(app.PartFile(upload.Id)).ShouldBeFalse();
    }

    [Fact]
    public async Task Delete_RemovesTheUploadAndItsBytes()
    {
        var (_, client) = await app.SignUpAsync("up");
        var upload = await UploadsApi.HalfUploadAsync(client);
        File.Exists(app.PartFile(upload.Id)).ShouldBeTrue();

        (await (await client.DeleteAsync($"/api/v1/uploads/{upload.Id}", Ct)).ReadAsync<UploadView>()).Id.ShouldBe(upload.Id);

        File.Exists(app.PartFile(upload.Id)).ShouldBeFalse();
        await (await client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await client.DeleteAsync($"/api/v1/uploads/{upload.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Delete_OfAnUploadThatNeverReceivedAByte_Succeeds_EvenBeforeAnyUploadMadeTheDirectory()
    {
        var (_, client) = await app.SignUpAsync("up");
        var empty = await (await UploadsApi.PostCreateAsync(client, 10, UploadsApi.Sha256([1]))).ReadAsync<UploadView>(HttpStatusCode.Created);
        var directory = Path.GetDirectoryName(app.PartFile(empty.Id))!;
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        var deleted = await client.DeleteAsync($"/api/v1/uploads/{empty.Id}", Ct);

        (await deleted.ReadAsync<UploadView>()).Id.ShouldBe(empty.Id);
        await (await client.GetAsync($"/api/v1/uploads/{empty.Id}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task PerAccountLimits_OnOpenUploadsAndTheirBytes_AreEnforced_AndFreedByDelete()
    {
        var (_, client) = await app.SignUpAsync("up");
        var (_, other) = await app.SignUpAsync("up");
        var sha = UploadsApi.Sha256([1]);
        var big = await (await UploadsApi.PostCreateAsync(client, 4L << 20, sha)).ReadAsync<UploadView>(HttpStatusCode.Created);

        var tooManyBytes = await UploadsApi.PostCreateAsync(client, 3L << 20, sha);
        await tooManyBytes.ProblemAsync(HttpStatusCode.Conflict, "upload-limit");
        await (await UploadsApi.PostCreateAsync(client, 1, sha)).ReadAsync<UploadView>(HttpStatusCode.Created);
        await (await UploadsApi.PostCreateAsync(client, 1, sha)).ReadAsync<UploadView>(HttpStatusCode.Created);
        var fourth = await UploadsApi.PostCreateAsync(client, 1, sha);
        await fourth.ProblemAsync(HttpStatusCode.Conflict, "upload-limit");
        // Another account has limits of its own.
        await (await UploadsApi.PostCreateAsync(other, 4L << 20, sha)).ReadAsync<UploadView>(HttpStatusCode.Created);

        (await client.DeleteAsync($"/api/v1/uploads/{big.Id}", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await (await UploadsApi.PostCreateAsync(client, 1, sha)).ReadAsync<UploadView>(HttpStatusCode.Created);
    }

    [Fact]
    public async Task ProviderPrincipals_CannotUpload()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        await (await UploadsApi.PostCreateAsync(developer, 10, UploadsApi.Sha256([1]))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await UploadsApi.PostCreateAsync(app.Admin(), 10, UploadsApi.Sha256([1]))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task ConcurrentChunks_ForTheSameOffset_StoreExactlyOne()
    {
        var (_, client) = await app.SignUpAsync("up");
        var content = UploadsApi.Disk(1 << 20);
        var upload = await UploadsApi.CreateAsync(client, content);

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => UploadsApi.PutAsync(client, upload.Id, content, 0, content.Length - 1)));

        answers.Count(a => a.StatusCode == HttpStatusCode.OK).ShouldBe(1);
        answers.Where(a => a.StatusCode != HttpStatusCode.OK).Select(a => a.StatusCode).ShouldAllBe(s => s == HttpStatusCode.Conflict);
        var done = await (await client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).ReadAsync<UploadView>();
        done.State.ShouldBe(UploadState.Complete);
        (await File.ReadAllBytesAsync(app.PartFile(upload.Id), Ct)).ShouldBe(content);
    }

    [Fact]
    public async Task CreateRetried_WithTheSameIdempotencyKey_OpensOneUpload()
    {
        var (_, client) = await app.SignUpAsync("up");
        var request = new CreateUploadRequest(1000, UploadsApi.Sha256([1]));
        var key = Guid.NewGuid().ToString("n");

        async Task<HttpResponseMessage> PostAsync(CreateUploadRequest body)
        {
            var message = new HttpRequestMessage(HttpMethod.Post, "/api/v1/uploads") { Content = System.Net.Http.Json.JsonContent.Create(body, options: WelkinJson.Client) };
            message.Headers.Add("Idempotency-Key", key);
            return await client.SendAsync(message, Ct);
        }
        var first = await (await PostAsync(request)).ReadAsync<UploadView>(HttpStatusCode.Created);
        var again = await (await PostAsync(request)).ReadAsync<UploadView>(HttpStatusCode.Created);

        again.Id.ShouldBe(first.Id);
        (await (await client.GetAsync("/api/v1/uploads", Ct)).ReadAsync<Page<UploadView>>()).Items.ShouldHaveSingleItem();
        (await PostAsync(request with { SizeBytes = 2000 })).StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);
    }

    [Fact]
    public async Task ExpirySweep_LeavesUploadsThatHaveNotExpired()
    {
        var (_, client) = await app.SignUpAsync("up");
        var upload = await UploadsApi.HalfUploadAsync(client);

        await app.Services.GetRequiredService<UploadService>().ExpireAsync(Ct);

        File.Exists(app.PartFile(upload.Id)).ShouldBeTrue();
        (await (await client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).ReadAsync<UploadView>()).ReceivedBytes.ShouldBe(upload.ReceivedBytes);
    }
}

/// <summary>A cloud whose uploads expire a second after their last chunk.</summary>
public sealed class ShortExpiryApp : WelkinApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Uploads:Expiry"] = "00:00:01" };
}

public sealed class UploadExpiryTests(ShortExpiryApp app) : IClassFixture<ShortExpiryApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StaleUpload_IsGoneForItsAccount_AndTheSweepDeletesItsBytes()
    {
        var (_, client) = await app.SignUpAsync("up");
        var upload = await UploadsApi.HalfUploadAsync(client);
        var part = Path.Combine(app.DataDir, "uploads", upload.Id + ".part");
        File.Exists(part).ShouldBeTrue();

        await Welkin.Testing.Polling.UntilAsync(async () => (await client.GetAsync($"/api/v1/uploads/{upload.Id}", Ct)).StatusCode == HttpStatusCode.NotFound,
            "the upload to expire", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        var swept = await app.Services.GetRequiredService<UploadService>().ExpireAsync(Ct);

        swept.ShouldBeGreaterThanOrEqualTo(1);
        File.Exists(part).ShouldBeFalse();
        (await (await client.GetAsync("/api/v1/uploads", Ct)).ReadAsync<Page<UploadView>>()).Items.ShouldBeEmpty();
    }
}
