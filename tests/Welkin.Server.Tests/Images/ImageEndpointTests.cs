using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing.Images;

namespace Welkin.Server.Tests.Images;

/// <summary>A cloud whose image limit is small enough to exceed in a test.</summary>
public sealed class SmallImageLimitApp : WelkinApp
{
    public const long MaxImageBytes = 4 * 1024 * 1024;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:MaxImageBytes"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public string BlobRoot => Path.Combine(DataDir, "blobs");

    public string BlobPath(string sha256) => Path.Combine(BlobRoot, "sha256", sha256[..2], sha256);

    public string[] StagedFiles() => Directory.Exists(Path.Combine(BlobRoot, "tmp")) ? Directory.GetFiles(Path.Combine(BlobRoot, "tmp")) : [];
}

public sealed class ImageEndpointTests(SmallImageLimitApp app) : IClassFixture<SmallImageLimitApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int _seed = Environment.TickCount;

    /// <summary>Content no other test uploads, so blob counts are this test's own.</summary>
    private static byte[] UniqueRaw(int length = 100_000) => DiskHeaders.Raw(length, Interlocked.Increment(ref _seed));

    private static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, HttpContent body, string query = "name=disk") =>
        client.PostAsync("/api/v1/images?" + query, body, Ct);

    private static ByteArrayContent Octets(byte[] content, string type = "application/octet-stream")
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(type);
        return body;
    }

    private async Task<(HttpClient Developer, ImageView Image)> UploadAsync(byte[] content, string name = "disk")
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var image = await (await PostAsync(developer, Octets(content), "name=" + Uri.EscapeDataString(name))).ReadAsync<ImageView>(HttpStatusCode.Created);
        return (developer, image);
    }

    private async Task<List<AuditEntryView>> AuditOfAsync(string target)
    {
        var entries = new List<AuditEntryView>();
        string? next = null;
        do
        {
            var page = await (await app.Admin().GetAsync($"/api/v1/audit?limit=1000{(next is null ? "" : "&after=" + next)}", Ct)).ReadAsync<Page<AuditEntryView>>();
            entries.AddRange(page.Items.Where(e => e.Target == target));
            next = page.Next;
        }
        while (next is not null);
        return entries;
    }

    [Fact]
    public async Task Upload_WhenRawContent_RecordsDigestSizeAndFormat()
    {
        var content = UniqueRaw();
        var developer = await app.ProviderPrincipalAsync(Role.Developer);

        var response = await PostAsync(developer, Octets(content), "name=" + Uri.EscapeDataString("Debian 12 base") + "&description=minimal");
        var image = await response.ReadAsync<ImageView>(HttpStatusCode.Created);

        image.Id.ShouldStartWith("img_");
        image.Name.ShouldBe("Debian 12 base");
        image.Description.ShouldBe("minimal");
        image.Sha256.ShouldBe(Sha256(content));
        image.SizeBytes.ShouldBe(content.Length);
        image.Format.ShouldBe(ImageFormat.Raw);
        image.State.ShouldBe(ImageState.Available);
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/images/{image.Id}");
        (await File.ReadAllBytesAsync(app.BlobPath(image.Sha256), Ct)).ShouldBe(content);
        app.StagedFiles().ShouldBeEmpty();

        var read = await (await developer.GetAsync($"/api/v1/images/{image.Id}", Ct)).ReadAsync<ImageView>();
        read.ShouldBe(image);
        var audit = await AuditOfAsync(image.Id);
        audit.ShouldHaveSingleItem().Action.ShouldBe("image.upload");
        audit[0].Detail!.ShouldContain(image.Sha256);
    }

    [Theory]
    [InlineData("qcow2", ImageFormat.Qcow2)]
    [InlineData("vmdk-sparse", ImageFormat.Vmdk)]
    [InlineData("vmdk-descriptor", ImageFormat.Vmdk)]
    [InlineData("raw", ImageFormat.Raw)]
    public async Task Upload_DetectsFormatFromContent(string kind, ImageFormat expected)
    {
        var content = kind switch
        {
            "qcow2" => DiskHeaders.Qcow2(64L << 20),
            "vmdk-sparse" => DiskHeaders.VmdkSparse(131_072),
            "vmdk-descriptor" => DiskHeaders.VmdkDescriptor(2048),
            _ => UniqueRaw(),
        };
        // The file name says nothing: only the bytes count.
        var (_, image) = await UploadAsync(content, "image.iso");
        image.Format.ShouldBe(expected);
        image.Sha256.ShouldBe(Sha256(content));
    }

    [Fact]
    public async Task Upload_SameContentTwice_StoresOneBlob_WhichGoesWithTheLastImage()
    {
        var content = UniqueRaw();
        var (developer, first) = await UploadAsync(content, "first");
        var (_, second) = await UploadAsync(content, "second");

        second.Id.ShouldNotBe(first.Id);
        second.Sha256.ShouldBe(first.Sha256);
        Directory.GetFiles(app.BlobRoot, first.Sha256, SearchOption.AllDirectories).ShouldHaveSingleItem();

        var deleted = await (await developer.DeleteAsync($"/api/v1/images/{first.Id}", Ct)).ReadAsync<ImageView>();
        deleted.State.ShouldBe(ImageState.Deleted);
        deleted.Version.ShouldBe(first.Version + 1);
        File.Exists(app.BlobPath(first.Sha256)).ShouldBeTrue();
        (await developer.GetAsync($"/api/v1/images/{second.Id}/content", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        await (await developer.DeleteAsync($"/api/v1/images/{second.Id}", Ct)).ReadAsync<ImageView>();
        File.Exists(app.BlobPath(first.Sha256)).ShouldBeFalse();
        Directory.GetFiles(app.BlobRoot, first.Sha256 + "*", SearchOption.AllDirectories).ShouldBeEmpty();

        (await AuditOfAsync(first.Id)).Select(e => e.Detail).Last().ShouldBe($"sha256={first.Sha256}; blob=kept");
        (await AuditOfAsync(second.Id)).Select(e => e.Detail).Last().ShouldBe($"sha256={first.Sha256}; blob=removed");
    }

    [Fact]
    public async Task Upload_AfterBlobWasRemoved_StoresItAgain()
    {
        var content = UniqueRaw();
        var (developer, first) = await UploadAsync(content);
        (await developer.DeleteAsync($"/api/v1/images/{first.Id}", Ct)).EnsureSuccessStatusCode();
        File.Exists(app.BlobPath(first.Sha256)).ShouldBeFalse();

        var (_, again) = await UploadAsync(content);
        (await File.ReadAllBytesAsync(app.BlobPath(again.Sha256), Ct)).ShouldBe(content);
        var download = await developer.GetByteArrayAsync($"/api/v1/images/{again.Id}/content", Ct);
        download.ShouldBe(content);
    }

    [Fact]
    public async Task Delete_WhenDeleted_ContentIsGoneButRecordStays()
    {
        var (developer, image) = await UploadAsync(UniqueRaw());
        (await developer.DeleteAsync($"/api/v1/images/{image.Id}", Ct)).EnsureSuccessStatusCode();

        await (await developer.DeleteAsync($"/api/v1/images/{image.Id}", Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        await (await developer.GetAsync($"/api/v1/images/{image.Id}/content", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        (await (await developer.GetAsync($"/api/v1/images/{image.Id}", Ct)).ReadAsync<ImageView>()).State.ShouldBe(ImageState.Deleted);

        var available = await ListAllAsync(developer, "");
        available.ShouldNotContain(i => i.Id == image.Id);
        var deleted = await ListAllAsync(developer, "&state=deleted");
        deleted.ShouldContain(i => i.Id == image.Id);
    }

    [Fact]
    public async Task Delete_WhenVersionDiffers_Returns412AndKeepsImage()
    {
        var (developer, image) = await UploadAsync(UniqueRaw());
        await (await developer.DeleteAsync($"/api/v1/images/{image.Id}?version=7", Ct)).ProblemAsync(HttpStatusCode.PreconditionFailed, "precondition-failed");
        (await (await developer.GetAsync($"/api/v1/images/{image.Id}", Ct)).ReadAsync<ImageView>()).State.ShouldBe(ImageState.Available);
        (await developer.DeleteAsync($"/api/v1/images/{image.Id}?version={image.Version}", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task List_PagesInCreationOrder()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await UploadAsync(UniqueRaw(1000), $"paged-{i}")).Image.Id);
        }
        var all = await ListAllAsync(developer, "", pageSize: 2);
        all.Select(i => i.Id).Where(ids.Contains).ShouldBe(ids);
        all.Select(i => i.Id).ShouldBe(all.Select(i => i.Id).Order(StringComparer.Ordinal));
    }

    private static async Task<List<ImageView>> ListAllAsync(HttpClient client, string query, int pageSize = 500)
    {
        var items = new List<ImageView>();
        string? next = null;
        do
        {
            var page = await (await client.GetAsync($"/api/v1/images?limit={pageSize}{query}{(next is null ? "" : "&after=" + next)}", Ct)).ReadAsync<Page<ImageView>>();
            page.Items.Count.ShouldBeLessThanOrEqualTo(pageSize);
            items.AddRange(page.Items);
            next = page.Next;
        }
        while (next is not null);
        return items;
    }

    [Fact]
    public async Task Content_WhenNoRange_ReturnsAllBytesWithDigestHeaders()
    {
        var content = UniqueRaw(300_000);
        var (developer, image) = await UploadAsync(content);

        var response = await developer.GetAsync($"/api/v1/images/{image.Id}/content", Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(content);
        response.Headers.AcceptRanges.ShouldBe(["bytes"]);
        response.Headers.ETag!.Tag.ShouldBe($"\"{image.Sha256}\"");
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/octet-stream");
        response.Content.Headers.ContentLength.ShouldBe(content.Length);
        response.Headers.GetValues("Repr-Digest").ShouldBe([$"sha-256=:{Convert.ToBase64String(SHA256.HashData(content))}:"]);
    }

    [Theory]
    [InlineData("bytes=0-99", 0, 100)]
    [InlineData("bytes=1000-1999", 1000, 1000)]
    [InlineData("bytes=-100", 299_900, 100)]
    [InlineData("bytes=299990-", 299_990, 10)]
    [InlineData("bytes=299990-999999", 299_990, 10)]
    public async Task Content_WhenSingleRange_Returns206WithThoseBytes(string range, int from, int length)
    {
        var content = UniqueRaw(300_000);
        var (developer, image) = await UploadAsync(content);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/images/{image.Id}/content");
        request.Headers.TryAddWithoutValidation("Range", range).ShouldBeTrue();
        var response = await developer.SendAsync(request, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.PartialContent);
        response.Content.Headers.ContentRange!.ToString().ShouldBe($"bytes {from}-{from + length - 1}/{content.Length}");
        (await response.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(content[from..(from + length)]);
    }

    [Fact]
    public async Task Content_WhenRangeUnsatisfiable_Returns416()
    {
        var content = UniqueRaw(1000);
        var (developer, image) = await UploadAsync(content);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/images/{image.Id}/content");
        request.Headers.Range = new RangeHeaderValue(1000, null);
        var response = await developer.SendAsync(request, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.RequestedRangeNotSatisfiable);
        response.Content.Headers.ContentRange!.ToString().ShouldBe("bytes */1000");
    }

    [Fact]
    public async Task Content_WhenIfRangeEtagIsStale_ReturnsWholeContent()
    {
        var content = UniqueRaw(1000);
        var (developer, image) = await UploadAsync(content);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/images/{image.Id}/content");
        request.Headers.Range = new RangeHeaderValue(0, 9);
        request.Headers.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue("\"" + new string('0', 64) + "\""));
        var response = await developer.SendAsync(request, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(content);
    }

    private async Task<HttpResponseMessage> RangeAsync(HttpClient developer, string imageId, string range, Action<HttpRequestMessage>? more = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/images/{imageId}/content");
        request.Headers.TryAddWithoutValidation("Range", range).ShouldBeTrue();
        more?.Invoke(request);
        return await developer.SendAsync(request, Ct);
    }

    [Fact]
    public async Task Content_WhenIfRangeEtagMatches_Returns206()
    {
        var content = UniqueRaw(1000);
        var (developer, image) = await UploadAsync(content);

        var response = await RangeAsync(developer, image.Id, "bytes=0-9", r => r.Headers.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue($"\"{image.Sha256}\"")));

        response.StatusCode.ShouldBe(HttpStatusCode.PartialContent);
        (await response.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(content[..10]);
    }

    [Fact]
    public async Task Content_WhenIfRangeEtagIsWeak_ReturnsWholeContent()
    {
        var content = UniqueRaw(1000);
        var (developer, image) = await UploadAsync(content);

        var response = await RangeAsync(developer, image.Id, "bytes=0-9", r => r.Headers.TryAddWithoutValidation("If-Range", $"W/\"{image.Sha256}\""));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(content);
    }

    [Fact]
    public async Task Content_WhenIfRangeDateIsNotLastModified_ReturnsWholeContent()
    {
        var content = UniqueRaw(1000);
        var (developer, image) = await UploadAsync(content);
        var lastModified = (await RangeAsync(developer, image.Id, "bytes=0-0")).Content.Headers.LastModified!.Value;

        var earlier = await RangeAsync(developer, image.Id, "bytes=0-9", r => r.Headers.IfRange = new RangeConditionHeaderValue(lastModified.AddDays(-1)));
        var later = await RangeAsync(developer, image.Id, "bytes=0-9", r => r.Headers.IfRange = new RangeConditionHeaderValue(lastModified.AddDays(1)));
        var exact = await RangeAsync(developer, image.Id, "bytes=0-9", r => r.Headers.IfRange = new RangeConditionHeaderValue(lastModified));

        (earlier.StatusCode, later.StatusCode, exact.StatusCode).ShouldBe((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PartialContent));
        (await later.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(content);
    }

    [Theory]
    [InlineData("items=0-1")]
    [InlineData("bytes=0-1,5-9")]
    public async Task Content_WhenRangeIsNotOneByteRange_ReturnsWholeContent(string range)
    {
        var content = UniqueRaw(1000);
        var (developer, image) = await UploadAsync(content);

        var response = await RangeAsync(developer, image.Id, range);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentRange.ShouldBeNull();
        (await response.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(content);
    }

    [Fact]
    public async Task Content_WhenRangeStartsPastTheEnd_Returns416WithTheLength()
    {
        var content = UniqueRaw(1000);
        var (developer, image) = await UploadAsync(content);

        var response = await RangeAsync(developer, image.Id, "bytes=5000-6000");

        response.StatusCode.ShouldBe(HttpStatusCode.RequestedRangeNotSatisfiable);
        response.Content.Headers.ContentRange!.ToString().ShouldBe("bytes */1000");
    }

    [Fact]
    public async Task Upload_WhenContentLengthOverLimit_Returns413BeforeReading()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var response = await PostAsync(developer, Octets(new byte[SmallImageLimitApp.MaxImageBytes + 1]));
        await response.ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        app.StagedFiles().ShouldBeEmpty();
    }

    [Fact]
    public async Task Upload_WhenChunkedBodyOverLimit_Returns413AndRemovesStagedFile()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var body = new StreamContent(new UnknownLengthStream(new byte[SmallImageLimitApp.MaxImageBytes + 100_000]));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        body.Headers.ContentLength.ShouldBeNull();

        var response = await PostAsync(developer, body);
        await response.ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        app.StagedFiles().ShouldBeEmpty();
    }

    [Fact]
    public async Task Upload_WhenExactlyAtLimit_Succeeds()
    {
        var content = UniqueRaw((int)SmallImageLimitApp.MaxImageBytes);
        var (_, image) = await UploadAsync(content);
        image.SizeBytes.ShouldBe(SmallImageLimitApp.MaxImageBytes);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    [InlineData(null)]
    public async Task Upload_WhenNotOctetStream_Returns415(string? type)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var body = new ByteArrayContent(UniqueRaw(100));
        if (type is not null)
        {
            body.Headers.ContentType = new MediaTypeHeaderValue(type);
        }
        var problem = await (await PostAsync(developer, body)).ProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        problem.GetProperty("detail").GetString()!.ShouldContain("application/octet-stream");
        app.StagedFiles().ShouldBeEmpty();
    }

    [Fact]
    public async Task Upload_WhenSha256ParameterMatches_Succeeds_AndWhenNot_Returns400AndStoresNothing()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var content = UniqueRaw();
        var wrong = Sha256(UniqueRaw(10));

        var mismatch = await PostAsync(developer, Octets(content), "name=disk&sha256=" + wrong);
        (await mismatch.ProblemAsync(HttpStatusCode.BadRequest, "digest-mismatch")).GetProperty("detail").GetString()!.ShouldContain(Sha256(content));
        File.Exists(app.BlobPath(Sha256(content))).ShouldBeFalse();
        app.StagedFiles().ShouldBeEmpty();

        var ok = await PostAsync(developer, Octets(content), "name=disk&sha256=" + Sha256(content).ToUpperInvariant());
        (await ok.ReadAsync<ImageView>(HttpStatusCode.Created)).Sha256.ShouldBe(Sha256(content));
    }

    [Fact]
    public async Task Upload_WhenContentDigestHeaderGiven_VerifiesIt()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var content = UniqueRaw();

        var bad = Octets(content);
        bad.Headers.Add("Content-Digest", $"sha-256=:{Convert.ToBase64String(SHA256.HashData(UniqueRaw(10)))}:");
        await (await PostAsync(developer, bad)).ProblemAsync(HttpStatusCode.BadRequest, "digest-mismatch");

        var malformed = Octets(content);
        malformed.Headers.Add("Content-Digest", "sha-256=:bm90IGEgZGlnZXN0:");
        await (await PostAsync(developer, malformed)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");

        var good = Octets(content);
        good.Headers.Add("Content-Digest", $"sha-512=:{Convert.ToBase64String(SHA512.HashData(content))}:, sha-256=:{Convert.ToBase64String(SHA256.HashData(content))}:");
        (await (await PostAsync(developer, good)).ReadAsync<ImageView>(HttpStatusCode.Created)).Sha256.ShouldBe(Sha256(content));
    }

    [Theory]
    [InlineData("")]
    [InlineData("description=no+name")]
    [InlineData("name=%20%20")]
    [InlineData("name=tab%09name")]
    [InlineData("name=disk&sha256=xyz")]
    public async Task Upload_WhenFieldsInvalid_Returns400(string query)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        await (await PostAsync(developer, Octets(UniqueRaw(100)), query)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        app.StagedFiles().ShouldBeEmpty();
    }

    [Fact]
    public async Task Upload_WhenNameOrDescriptionTooLong_Returns400()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var problem = await (await PostAsync(developer, Octets(UniqueRaw(100)), $"name={new string('n', 201)}&description={new string('d', 1001)}"))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ShouldBe(["name", "description"], ignoreOrder: true);
        (await (await PostAsync(developer, Octets(UniqueRaw(100)), $"name={new string('n', 200)}&description={new string('d', 1000)}"))
            .ReadAsync<ImageView>(HttpStatusCode.Created)).Name.Length.ShouldBe(200);
    }

    [Fact]
    public async Task Upload_WhenBodyEmpty_Returns400()
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        await (await PostAsync(developer, Octets([]))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        app.StagedFiles().ShouldBeEmpty();
    }

    [Theory]
    [InlineData("GET", "/api/v1/images/nope")]
    [InlineData("GET", "/api/v1/images/img_123")]
    [InlineData("GET", "/api/v1/images/acc_01hzzzzzzzzzzzzzzzzzzzzzzz")]
    [InlineData("GET", "/api/v1/images/nope/content")]
    [InlineData("DELETE", "/api/v1/images/nope")]
    [InlineData("GET", "/api/v1/images?after=nope")]
    public async Task Request_WhenIdMalformed_Returns400InvalidId(string method, string path)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var response = await developer.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct);
        await response.ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("GET", "/content")]
    [InlineData("DELETE", "")]
    public async Task Request_WhenImageMissing_Returns404(string method, string suffix)
    {
        var developer = await app.ProviderPrincipalAsync(Role.Developer);
        var response = await developer.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/api/v1/images/img_01hzzzzzzzzzzzzzzzzzzzzzzz{suffix}"), Ct);
        await response.ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Request_WhenAccountPrincipal_Returns403()
    {
        var (_, image) = await UploadAsync(UniqueRaw(1000));
        var (_, account) = await app.SignUpAsync("img");

        await (await account.GetAsync("/api/v1/images", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await account.GetAsync($"/api/v1/images/{image.Id}", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await account.GetAsync($"/api/v1/images/{image.Id}/content", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await account.DeleteAsync($"/api/v1/images/{image.Id}", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await PostAsync(account, Octets(UniqueRaw(100)))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        app.StagedFiles().ShouldBeEmpty();
    }

    [Fact]
    public async Task Request_WhenAnonymous_Returns401()
    {
        var anonymous = app.Anonymous();
        await (await anonymous.GetAsync("/api/v1/images", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        await (await PostAsync(anonymous, Octets(UniqueRaw(100)))).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        await (await PostAsync(anonymous, Octets(UniqueRaw(100), "text/plain"))).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        await (await anonymous.GetAsync("/api/v1/images/img_01hzzzzzzzzzzzzzzzzzzzzzzz/content", Ct)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Theory]
    [InlineData(Role.Auditor)]
    [InlineData(Role.CatalogManager)]
    public async Task ReadOnlyRoles_CanReadAndDownload_ButNotUploadOrDelete(Role role)
    {
        var content = UniqueRaw(1000);
        var (_, image) = await UploadAsync(content);
        var reader = await app.ProviderPrincipalAsync(role);

        (await (await reader.GetAsync($"/api/v1/images/{image.Id}", Ct)).ReadAsync<ImageView>()).Id.ShouldBe(image.Id);
        (await reader.GetByteArrayAsync($"/api/v1/images/{image.Id}/content", Ct)).ShouldBe(content);
        await (await PostAsync(reader, Octets(UniqueRaw(100)))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await reader.DeleteAsync($"/api/v1/images/{image.Id}", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        var denied = await AuditOfAsync($"/api/v1/images/{image.Id}");
        denied.ShouldContain(e => e.Action == "image.delete" && e.Outcome == "denied");
    }

    [Fact]
    public async Task OpenApi_DescribesUploadBodyAsOctetStream()
    {
        var doc = System.Text.Json.JsonDocument.Parse(await app.Anonymous().GetStringAsync("/api/v1/openapi.json", Ct)).RootElement;
        var body = doc.GetProperty("paths").GetProperty("/api/v1/images").GetProperty("post").GetProperty("requestBody");
        body.GetProperty("content").GetProperty("application/octet-stream").GetProperty("schema").GetProperty("format").GetString().ShouldBe("binary");
    }

    [Fact]
    public async Task Roles_WithoutImagePermissions_AreRefused()
    {
        var billing = await app.ProviderPrincipalAsync(Role.BillingAdmin);
        await (await billing.GetAsync("/api/v1/images", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    /// <summary>Hides its length, so the client sends the body chunked.</summary>
    private sealed class UnknownLengthStream(byte[] content) : MemoryStream(content)
    {
        public override bool CanSeek => false;
    }
}
