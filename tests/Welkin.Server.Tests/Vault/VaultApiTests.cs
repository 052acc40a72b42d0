using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Vault;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Vault;

public sealed class VaultApiTests(VaultApp app) : IClassFixture<VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Record_WrittenStreamed_ReadsBackTheSameBytes_WithItsDigest()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var content = RandomNumberGenerator.GetBytes(100_000);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(content));

        var response = await tenant.Client.PutRecordAsync(vault.Id, $"key=ledgers%2F2025.csv&sha256={sha256}", new StreamContent(new MemoryStream(content)));
        var record = await response.ReadAsync<VaultRecordView>(HttpStatusCode.Created);

        response.Headers.Location!.ToString().ShouldBe($"/api/v1/vaults/{vault.Id}/records/{record.Id}");
        (record.Key, record.Sha256, record.SizeBytes, record.State).ShouldBe(("ledgers/2025.csv", sha256, 100_000L, VaultRecordState.Stored));
        using var read = await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/content", Ct);
        read.StatusCode.ShouldBe(HttpStatusCode.OK);
        read.Content.Headers.ContentLength.ShouldBe(100_000);
        read.Headers.ETag!.Tag.ShouldBe($"\"{sha256}\"");
        (await read.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(content);
        var second = await tenant.Client.RecordAsync(vault.Id, "ledgers/2025.csv", "v2"u8.ToArray());
        var versions = await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/records?key=ledgers%2F2025.csv", Ct)).ReadAsync<Page<VaultRecordView>>();
        versions.Items.Select(r => r.Id).ShouldBe([record.Id, second.Id]);
        (await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}", Ct)).ReadAsync<VaultView>()).StoredBytes.ShouldBe(100_002);
        var audit = await (await tenant.Client.GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.Where(e => e.Target == record.Id).Select(e => e.Action).ShouldBe(["vault.record.write", "vault.record.read"]);
    }

    [Fact]
    public async Task Class_SpeaksCdmi_AndCompliance_RefusesEveryoneOverHttp()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var created = await tenant.Client.PostAsJsonAsync($"/api/v1/vaults/{vault.Id}/classes",
            new CreateRetentionClassRequest("sox", "P7Y", RetentionMode.Compliance, AutoDelete: true), WelkinJson.Client, Ct);
        var json = await created.Content.ReadAsStringAsync(Ct);
        created.StatusCode.ShouldBe(HttpStatusCode.Created, json);
        json.ShouldContain("\"cdmi_retention_period\":\"P7Y\"");
        json.ShouldContain("\"cdmi_retention_autodelete\":true");
        json.ShouldContain("\"cdmi_sanitization_method\":\"cryptographic-erase\"");
        var record = await tenant.Client.RecordAsync(vault.Id, "q4.pdf", "report"u8.ToArray(), "sox");

        await (await tenant.Client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}?bypassGovernance=true", Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "compliance-retention");
        await (await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/retention",
            new RecordRetentionRequest(null, null, BypassGovernance: true), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "compliance-retention");
        await (await app.Admin().DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}?bypassGovernance=true", Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        // The provider reads descriptions, never contents.
        (await (await app.Admin().GetAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}", Ct)).ReadAsync<VaultRecordView>()).Id.ShouldBe(record.Id);
        await (await app.Admin().GetAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/content", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Governance_DeleteWithBypass_AnswersACertificate_ThatVerifiesWithTheCloudsKey()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        await tenant.Client.ClassAsync(vault.Id, "public", "P1Y", RetentionMode.Governance);
        var record = await tenant.Client.RecordAsync(vault.Id, "notes.txt", "public notes"u8.ToArray(), "public");
        await (await tenant.Client.PutAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/holds/case-17", null, Ct)).ReadAsync<VaultRecordView>();
        await (await tenant.Client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}?bypassGovernance=true", Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "legal-hold");
        (await (await tenant.Client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/holds/case-17", Ct)).ReadAsync<VaultRecordView>()).HoldIds.ShouldBeEmpty();
        await (await tenant.Client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "governance-retention");

        var certificate = await (await tenant.Client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}?bypassGovernance=true", Ct))
            .ReadAsync<DestructionCertificateView>();

        var key = await (await tenant.Client.GetAsync("/api/v1/vault-keys/certificate-key", Ct)).ReadAsync<AuditSigningKeyView>();
        using var publicKey = AuditPublicKey.FromPem(key.PublicKeyPem);
        RecordDestruction.Verify(certificate, publicKey).ShouldBeNull();
        var listed = await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/certificates", Ct)).ReadAsync<Page<DestructionCertificateView>>();
        listed.Items.ShouldBe([certificate]);
        await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/content", Ct)).ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
        var audit = await (await tenant.Client.GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.Where(e => e.Target == record.Id).Select(e => e.Action)
            .ShouldBe(["vault.record.write", "vault.record.hold", "vault.record.release-hold", "vault.record.delete-bypass", "vault.record.shred"]);
    }

    [Theory]
    [InlineData("key=..%2Fescape")]
    [InlineData("key=a%2F%2Fb")]
    [InlineData("key=%2Fabsolute")]
    [InlineData("key=a%5Cb")]
    [InlineData("key=nul%00")]
    [InlineData("")]
    [InlineData("key=ok&class=Not%20A%20Name")]
    [InlineData("key=ok&sha256=xyz")]
    public async Task Put_WithABadKeyClassOrDigest_Is400_AndKeepsNothing(string query)
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);

        var response = await tenant.Client.PutRecordAsync(vault.Id, query, new ByteArrayContent("x"u8.ToArray()));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync(Ct));
        (await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}", Ct)).ReadAsync<VaultView>()).Records.ShouldBe(0);
    }

    [Fact]
    public async Task Put_BeyondTheConfiguredMaximum_Is413_DeclaredOrStreamed()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var big = new byte[VaultApp.MaxRecordBytes + 1];

        // Refused before the body is read when its declared length is beyond the limit, and as it passes the limit when streamed.
        var declared = await tenant.Client.PutRecordAsync(vault.Id, "key=big", new ByteArrayContent(big));
        declared.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        (await declared.Content.ReadAsStringAsync(Ct)).ShouldContain("too-large");
        var chunked = await tenant.Client.PutRecordAsync(vault.Id, "key=big", new StreamContent(new NonSeekable(big)));
        chunked.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        (await chunked.Content.ReadAsStringAsync(Ct)).ShouldContain("too-large");
        var blobs = Path.Combine(app.DataDir, "vault");
        (Directory.Exists(blobs) ? Directory.GetFiles(blobs, "*", SearchOption.AllDirectories) : []).Where(f => f.Contains(vault.Id, StringComparison.Ordinal)).ShouldBeEmpty();
        await (await tenant.Client.PutRecordAsync(vault.Id, "key=json", new ByteArrayContent("{}"u8.ToArray()), "application/json"))
            .ProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        (await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}", Ct)).ReadAsync<VaultView>()).Records.ShouldBe(0);
        (await tenant.Client.RecordAsync(vault.Id, "exact", new byte[VaultApp.MaxRecordBytes])).SizeBytes.ShouldBe(VaultApp.MaxRecordBytes);
    }

    [Theory]
    [InlineData("""{"name":"c","cdmi_retention_period":"forever","mode":"compliance"}""")]
    [InlineData("""{"name":"c","cdmi_retention_period":"P101Y","mode":"compliance"}""")]
    [InlineData("""{"name":"c","cdmi_retention_period":"PT5H","mode":"governance"}""")]
    [InlineData("""{"name":"c","cdmi_retention_period":"P1Y","mode":"eternal"}""")]
    [InlineData("""{"name":"c","cdmi_retention_period":"P1Y","mode":"governance","cdmi_sanitization_method":"shred-by-hand"}""")]
    [InlineData("""{"name":"C C","cdmi_retention_period":"P1Y","mode":"governance"}""")]
    public async Task Class_WithABadRetention_Is400(string body)
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);

        var response = await tenant.Client.PostAsync($"/api/v1/vaults/{vault.Id}/classes", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Retention_InThePastOrHalfGiven_Is400_AndHoldIdsAreChecked()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var record = await tenant.Client.RecordAsync(vault.Id, "k", "v"u8.ToArray());

        await (await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/retention",
            new RecordRetentionRequest(RetentionMode.Governance, DateTimeOffset.UtcNow.AddDays(-1)), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/retention",
            new RecordRetentionRequest(RetentionMode.Governance, null), WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.PutAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/holds/{new string('h', 129)}", null, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.PutAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/holds/a%20b", null, Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await tenant.Client.GetAsync("/api/v1/vaults/not-a-vault/records", Ct)).ProblemAsync(HttpStatusCode.BadRequest, "invalid-id");
    }

    [Fact]
    public async Task RotateKey_KeepsRecordsReadable()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var record = await tenant.Client.RecordAsync(vault.Id, "k", "before the rotation"u8.ToArray());

        var rotated = await (await tenant.Client.PostAsync("/api/v1/vault-keys/rotate", null, Ct)).ReadAsync<VaultKeyRotationView>();

        (rotated.KeyVersion, rotated.Rewrapped).ShouldBe((2L, 1L));
        (await tenant.Client.GetStringAsync($"/api/v1/vaults/{vault.Id}/records/{record.Id}/content", Ct)).ShouldBe("before the rotation");
    }

    [Fact]
    public async Task TerminatingTheContract_DestroysUnretainedRecords_AndDeletesTheVault()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var record = await tenant.Client.RecordAsync(vault.Id, "draft.txt", "no retention"u8.ToArray());

        var accepted = await (await tenant.Client.PostAsJsonAsync($"/api/v1/contracts/{tenant.Contract.Id}/terminate", new ContractTransitionRequest(), WelkinJson.Client, Ct))
            .ReadAsync<AcceptedView<ContractView>>(HttpStatusCode.Accepted);
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        (await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}", Ct)).ReadAsync<VaultView>()).State.ShouldBe(VaultState.Deleted);
        (await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/certificates/{record.Id}", Ct)).ReadAsync<DestructionCertificateView>())
            .Certificate.ShouldContain("\"reason\":\"contract-terminated\"");
        (await app.AccountProvisionedAsync(tenant.AccountId, "storage-unit")).ShouldBe(0);
    }

    /// <summary>A stream without a length, so the client sends it chunked.</summary>
    private sealed class NonSeekable(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
