using System.Net;
using System.Text;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Server.S3;
using Welkin.Server.Tests.S3;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.Security;

/// <summary>
/// Tenant isolation on the S3 face, one case per operation of <see cref="IsolationTable.S3"/>: another
/// account's access key gets the answer of a missing bucket and changes nothing; the victim's own key
/// is served the same request.
/// </summary>
public sealed class S3IsolationTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private const string VictimBytes = "victim's bytes";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Operations() => new(IsolationTable.S3.Select(r => r.Operation));

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task AnotherAccountsKey_GetsTheAnswerOfAMissingBucket_AndChangesNothing(string operation)
    {
        var route = IsolationTable.S3.Single(r => r.Operation == operation);
        var victim = await VictimAsync();
        var (_, _, attacker) = await app.AccountWithKeyAsync();

        var foreign = await SendAsync(attacker, route, victim);
        var missing = await SendAsync(attacker, route, victim with { Bucket = "no-such-bucket-" + Guid.NewGuid().ToString("n")[..8] });
        var (contentAfter, keysAfter) = await VictimStateAsync(victim);
        var own = await SendAsync(victim.Key, route, victim);

        if (route.Level == S3Level.Account)
        {
            foreign.Status.ShouldBe(HttpStatusCode.OK);
            foreign.Text.ShouldNotContain(victim.Bucket);
            own.Text.ShouldContain(victim.Bucket);
        }
        else
        {
            foreign.Status.ShouldBeOneOf(HttpStatusCode.NotFound, HttpStatusCode.Forbidden);
            foreign.Status.ShouldBe(missing.Status);
            foreign.Code.ShouldBe(missing.Code);
            if (route.Method != "HEAD")
            {
                foreign.Code.ShouldBeOneOf("NoSuchBucket", "AccessDenied");
            }
        }
        contentAfter.ShouldBe(VictimBytes);
        keysAfter.ShouldBe([victim.ObjectKey]);
        ((int)own.Status).ShouldBeInRange(200, 299, $"the victim's own {operation} must be served: {own.Text}");
    }

    [Fact]
    public void EveryServedS3Operation_IsInTheIsolationTable()
    {
        var classified = IsolationTable.S3.Select(r => r.Operation).ToList();

        classified.ShouldBeUnique();
        S3Operations.Served.Except(classified).ShouldBeEmpty(
            "These S3 operations are served but not classified in tests/Welkin.Server.Tests/Security/IsolationTable.cs (S3)");
        classified.Except(S3Operations.Served).ShouldBeEmpty("IsolationTable.S3 names operations the S3 face does not serve");
    }

    /// <summary>
    /// AWS's S3 operations as requests (path-style; "{bucket}", "{key}", "{version}" as in the table). The face answers
    /// one it does not serve with 501 NotImplemented; any other answer means it serves it.
    /// </summary>
    private static readonly (string Operation, string Method, string PathAndQuery, string? Header)[] AwsOperations =
    [
        ("ListBuckets", "GET", "/", null),
        ("CreateBucket", "PUT", "/{bucket}", null),
        ("DeleteBucket", "DELETE", "/{bucket}", null),
        ("HeadBucket", "HEAD", "/{bucket}", null),
        ("GetBucketLocation", "GET", "/{bucket}?location", null),
        ("GetBucketVersioning", "GET", "/{bucket}?versioning", null),
        ("PutBucketVersioning", "PUT", "/{bucket}?versioning", null),
        ("GetObjectLockConfiguration", "GET", "/{bucket}?object-lock", null),
        ("PutObjectLockConfiguration", "PUT", "/{bucket}?object-lock", null),
        ("GetBucketAcl", "GET", "/{bucket}?acl", null),
        ("GetBucketPolicy", "GET", "/{bucket}?policy", null),
        ("GetBucketTagging", "GET", "/{bucket}?tagging", null),
        ("GetBucketLifecycleConfiguration", "GET", "/{bucket}?lifecycle", null),
        ("ListObjects", "GET", "/{bucket}", null),
        ("ListObjectsV2", "GET", "/{bucket}?list-type=2", null),
        ("ListObjectVersions", "GET", "/{bucket}?versions", null),
        ("ListMultipartUploads", "GET", "/{bucket}?uploads", null),
        ("DeleteObjects", "POST", "/{bucket}?delete", null),
        ("PutObject", "PUT", "/{bucket}/{key}", null),
        ("CopyObject", "PUT", "/{bucket}/copy.csv", "x-amz-copy-source"),
        ("GetObject", "GET", "/{bucket}/{key}", null),
        ("HeadObject", "HEAD", "/{bucket}/{key}", null),
        ("DeleteObject", "DELETE", "/{bucket}/{key}?versionId={version}", null),
        ("GetObjectAttributes", "GET", "/{bucket}/{key}?attributes", null),
        ("GetObjectAcl", "GET", "/{bucket}/{key}?acl", null),
        ("GetObjectTagging", "GET", "/{bucket}/{key}?tagging", null),
        ("PutObjectTagging", "PUT", "/{bucket}/{key}?tagging", null),
        ("GetObjectRetention", "GET", "/{bucket}/{key}?retention&versionId={version}", null),
        ("PutObjectRetention", "PUT", "/{bucket}/{key}?retention&versionId={version}", null),
        ("GetObjectLegalHold", "GET", "/{bucket}/{key}?legal-hold&versionId={version}", null),
        ("PutObjectLegalHold", "PUT", "/{bucket}/{key}?legal-hold&versionId={version}", null),
        ("CreateMultipartUpload", "POST", "/{bucket}/{key}?uploads", null),
        ("UploadPart", "PUT", "/{bucket}/{key}?partNumber=1&uploadId=none", null),
        ("CompleteMultipartUpload", "POST", "/{bucket}/{key}?uploadId=none", null),
        ("AbortMultipartUpload", "DELETE", "/{bucket}/{key}?uploadId=none", null),
        ("ListParts", "GET", "/{bucket}/{key}?uploadId=none", null),
        ("RestoreObject", "POST", "/{bucket}/{key}?restore", null),
        ("SelectObjectContent", "POST", "/{bucket}/{key}?select&select-type=2", null),
    ];

    /// <summary>
    /// Ties <c>S3Operations.Served</c> to what the dispatch does: every AWS operation the face answers with anything
    /// but 501 must be listed as served (and so in the table), and every one listed must be answered.
    /// </summary>
    [Fact]
    public async Task EveryAwsOperationTheFaceAnswers_IsListedAsServed()
    {
        var victim = await VictimAsync();
        var answered = new List<string>();
        foreach (var (operation, method, target, header) in AwsOperations)
        {
            var route = new S3Route(operation, S3Level.Key, method, target, method is "PUT" or "POST" ? "<a/>" : null);
            var (status, code, _) = await SendAsync(victim.Key, route, victim, header is null ? [] : [(header, $"/{victim.Bucket}/{victim.ObjectKey}")]);
            if (!(status == HttpStatusCode.NotImplemented && (code == "NotImplemented" || method == "HEAD")))
            {
                answered.Add(operation);
            }
        }

        answered.Except(S3Operations.Served).ShouldBeEmpty("The S3 face answers these operations, but S3Operations.Served (and IsolationTable.S3) do not list them");
        S3Operations.Served.Except(answered).ShouldBeEmpty("S3Operations.Served lists these operations, but the face answers them 501 NotImplemented");
    }

    private sealed record Victim(string Bucket, string ObjectKey, string VersionId, string LockedVersionId, string UploadId, string PartETag, IssuedAccessKey Key);

    /// <summary>
    /// A fresh account with a vault holding an object of two versions (the newer one under governance retention),
    /// and an open multipart upload of that key with one part.
    /// </summary>
    private async Task<Victim> VictimAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        using var raw = app.Raw();
        async Task<HttpResponseMessage> SendOkAsync(string method, string target, string? body = null, params (string, string)[] headers)
        {
            var response = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, key, method, target, body is null ? null : Encoding.UTF8.GetBytes(body), headers), Ct);
            response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
            return response;
        }
        var objectKey = "ledger.csv";
        using var put = await SendOkAsync("PUT", $"/{vault.Name}/{objectKey}", VictimBytes);
        using var locked = await SendOkAsync("PUT", $"/{vault.Name}/{objectKey}", VictimBytes,
            ("x-amz-object-lock-mode", "GOVERNANCE"), ("x-amz-object-lock-retain-until-date", "2099-01-01T00:00:00Z"));
        using var create = await SendOkAsync("POST", $"/{vault.Name}/{objectKey}?uploads");
        var uploadId = XDocument.Parse(await create.Content.ReadAsStringAsync(Ct)).Descendants().Single(e => e.Name.LocalName == "UploadId").Value;
        using var part = await SendOkAsync("PUT", $"/{vault.Name}/{objectKey}?partNumber=1&uploadId={uploadId}", VictimBytes);
        return new Victim(vault.Name, objectKey, put.Headers.GetValues("x-amz-version-id").Single(),
            locked.Headers.GetValues("x-amz-version-id").Single(), uploadId, part.Headers.ETag!.Tag, key);
    }

    private async Task<(string Content, List<string> Keys)> VictimStateAsync(Victim victim)
    {
        using var raw = app.Raw();
        using var get = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, victim.Key, "GET", $"/{victim.Bucket}/{victim.ObjectKey}?versionId={victim.VersionId}"), Ct);
        using var list = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, victim.Key, "GET", $"/{victim.Bucket}?list-type=2"), Ct);
        var listing = XDocument.Parse(await list.Content.ReadAsStringAsync(Ct));
        var keys = listing.Descendants().Where(e => e.Name.LocalName == "Key").Select(e => e.Value).ToList();
        return (await get.Content.ReadAsStringAsync(Ct), keys);
    }

    private async Task<(HttpStatusCode Status, string? Code, string Text)> SendAsync(IssuedAccessKey key, S3Route route, Victim victim,
        IEnumerable<(string Name, string Value)>? headers = null)
    {
        string Fill(string text) => text.Replace("{bucket}", victim.Bucket, StringComparison.Ordinal)
            .Replace("{key}", victim.ObjectKey, StringComparison.Ordinal).Replace("{version}", victim.VersionId, StringComparison.Ordinal)
            .Replace("{locked}", victim.LockedVersionId, StringComparison.Ordinal).Replace("{upload}", victim.UploadId, StringComparison.Ordinal)
            .Replace("{part}", victim.PartETag, StringComparison.Ordinal);
        var body = route.Body is null ? null : Encoding.UTF8.GetBytes(Fill(route.Body));
        var sent = (headers ?? []).ToList();
        if (body is not null)
        {
#pragma warning disable CA5351 // Content-MD5 is S3's integrity header, not a security measure.
            sent.Add(("Content-MD5", Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(body))));
#pragma warning restore CA5351
        }
        if (route.Header is { } header)
        {
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            sent.Add((header[..colon].Trim(), Fill(header[(colon + 1)..].Trim())));
        }
        using var raw = app.Raw();
        using var response = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, key, route.Method, Fill(route.PathAndQuery), body, sent), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        var code = text.StartsWith("<?xml", StringComparison.Ordinal) && XDocument.Parse(text).Root is { Name.LocalName: "Error" } error
            ? error.Elements().FirstOrDefault(e => e.Name.LocalName == "Code")?.Value
            : null;
        return (response.StatusCode, code, text);
    }
}
