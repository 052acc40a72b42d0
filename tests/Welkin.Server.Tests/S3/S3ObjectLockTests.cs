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
/// S3 Object Lock over the vaults with AWSSDK.S3: the x-amz-object-lock-* headers of PutObject, the
/// bucket's default retention (Put/GetObjectLockConfiguration), Put/GetObjectRetention under AWS's rules
/// (compliance never shortened, governance only with the bypass and its permission), legal holds, and
/// PutBucketVersioning.
/// </summary>
public sealed class S3ObjectLockTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DateTime Days(double days) => DateTime.UtcNow.AddDays(days);

    private async Task<(ConfigurationApi.Tenant Tenant, VaultView Vault, AmazonS3Client S3)> BucketAsync(bool objectLock = true)
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1, increments: 2);
        var vault = await (await tenant.Client.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(tenant.Contract.Id, 100, "locked", ObjectLock: objectLock), WelkinJson.Client, Ct))
            .ReadAsync<VaultView>(HttpStatusCode.Created);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        return (tenant, vault, app.S3Client(key.Id, key.Secret, checksumsWhenRequired: true));
    }


    private static Task<PutObjectResponse> PutAsync(AmazonS3Client s3, string bucket, string key, Action<PutObjectRequest>? with = null)
    {
        var request = new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = "ledger " + key };
        with?.Invoke(request);
        return s3.PutObjectAsync(request, Ct);
    }

    private static Task<PutObjectRetentionResponse> RetainAsync(AmazonS3Client s3, string bucket, string key, string versionId, ObjectLockRetentionMode? mode, DateTime? until, bool bypass = false) =>
        s3.PutObjectRetentionAsync(new PutObjectRetentionRequest
        {
            BucketName = bucket, Key = key, VersionId = versionId, BypassGovernanceRetention = bypass,
            Retention = new ObjectLockRetention { Mode = mode, RetainUntilDate = until },
        }, Ct);

    [Fact]
    public async Task PutObject_WithLockHeaders_KeepsTheRetentionAndTheLegalHold()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;
        var until = Days(2);

        var put = await PutAsync(s3, vault.Name, "q1.csv", r =>
        {
            r.ObjectLockMode = ObjectLockMode.Governance;
            r.ObjectLockRetainUntilDate = until;
            r.ObjectLockLegalHoldStatus = ObjectLockLegalHoldStatus.On;
        });
        var head = await s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = vault.Name, Key = "q1.csv", VersionId = put.VersionId }, Ct);
        var retention = await s3.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = vault.Name, Key = "q1.csv" }, Ct);
        var hold = await s3.GetObjectLegalHoldAsync(new GetObjectLegalHoldRequest { BucketName = vault.Name, Key = "q1.csv", VersionId = put.VersionId }, Ct);

        head.ObjectLockMode.ShouldBe(ObjectLockMode.Governance);
        head.ObjectLockRetainUntilDate!.Value.ToUniversalTime().ShouldBe(until, TimeSpan.FromSeconds(1));
        head.ObjectLockLegalHoldStatus.ShouldBe(ObjectLockLegalHoldStatus.On);
        retention.Retention.Mode.ShouldBe(ObjectLockRetentionMode.Governance);
        retention.Retention.RetainUntilDate!.Value.ToUniversalTime().ShouldBe(until, TimeSpan.FromSeconds(1));
        hold.LegalHold.Status.ShouldBe(ObjectLockLegalHoldStatus.On);
    }

    [Fact]
    public async Task PutObject_WithModeWithoutDate_IsInvalidRequest_AndAPastDateInvalidArgument_AndNothingIsKept()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;

        var modeOnly = await Should.ThrowAsync<AmazonS3Exception>(() => PutAsync(s3, vault.Name, "a.txt", r => r.ObjectLockMode = ObjectLockMode.Governance));
        var dateOnly = await Should.ThrowAsync<AmazonS3Exception>(() => PutAsync(s3, vault.Name, "a.txt", r => r.ObjectLockRetainUntilDate = Days(1)));
        var past = await Should.ThrowAsync<AmazonS3Exception>(() => PutAsync(s3, vault.Name, "a.txt", r =>
        {
            r.ObjectLockMode = ObjectLockMode.Compliance;
            r.ObjectLockRetainUntilDate = Days(-1);
        }));
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct);

        modeOnly.ErrorCode.ShouldBe("InvalidRequest");
        modeOnly.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        dateOnly.ErrorCode.ShouldBe("InvalidRequest");
        past.ErrorCode.ShouldBe("InvalidArgument");
        (listed.S3Objects ?? []).ShouldBeEmpty();
    }

    [Fact]
    public async Task LockOperations_InABucketWithoutObjectLock_AreInvalidRequest_UntilPutObjectLockConfigurationTurnsItOn()
    {
        var (tenant, vault, s3) = await BucketAsync(objectLock: false);
        using var _ = s3;
        var plain = await PutAsync(s3, vault.Name, "plain.txt");

        var headers = await Should.ThrowAsync<AmazonS3Exception>(() => PutAsync(s3, vault.Name, "held.txt", r => r.ObjectLockLegalHoldStatus = ObjectLockLegalHoldStatus.On));
        var retention = await Should.ThrowAsync<AmazonS3Exception>(() => RetainAsync(s3, vault.Name, "plain.txt", plain.VersionId, ObjectLockRetentionMode.Governance, Days(1)));
        var missing = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = vault.Name }, Ct));
        await s3.PutObjectLockConfigurationAsync(new PutObjectLockConfigurationRequest
        {
            BucketName = vault.Name, ObjectLockConfiguration = new ObjectLockConfiguration { ObjectLockEnabled = ObjectLockEnabled.Enabled },
        }, Ct);
        var enabled = await s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = vault.Name }, Ct);
        await RetainAsync(s3, vault.Name, "plain.txt", plain.VersionId, ObjectLockRetentionMode.Governance, Days(1));
        var api = await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}", Ct)).ReadAsync<VaultView>();

        headers.ErrorCode.ShouldBe("InvalidRequest");
        headers.Message.ShouldBe("Bucket is missing Object Lock Configuration");
        retention.ErrorCode.ShouldBe("InvalidRequest");
        missing.ErrorCode.ShouldBe("ObjectLockConfigurationNotFoundError");
        enabled.ObjectLockConfiguration.ObjectLockEnabled.ShouldBe(ObjectLockEnabled.Enabled);
        enabled.ObjectLockConfiguration.Rule.ShouldBeNull();
        api.ObjectLock.ShouldBeTrue();
    }

    [Fact]
    public async Task DefaultRetention_AppliesToAPlainPutObject_AndACompletedMultipartUpload_AndLockHeadersOverrideIt()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;

        await s3.PutObjectLockConfigurationAsync(new PutObjectLockConfigurationRequest
        {
            BucketName = vault.Name,
            ObjectLockConfiguration = new ObjectLockConfiguration
            {
                ObjectLockEnabled = ObjectLockEnabled.Enabled,
                Rule = new ObjectLockRule { DefaultRetention = new DefaultRetention { Mode = ObjectLockRetentionMode.Compliance, Days = 3 } },
            },
        }, Ct);
        var config = await s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = vault.Name }, Ct);
        var plain = await PutAsync(s3, vault.Name, "plain.txt");
        var explicitly = await PutAsync(s3, vault.Name, "explicit.txt", r =>
        {
            r.ObjectLockMode = ObjectLockMode.Governance;
            r.ObjectLockRetainUntilDate = Days(1);
        });
        var plainHead = await s3.GetObjectMetadataAsync(vault.Name, "plain.txt", Ct);
        var explicitHead = await s3.GetObjectMetadataAsync(vault.Name, "explicit.txt", Ct);
        var api = await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/default-retention", Ct)).ReadAsync<DefaultRetentionView>();
        var audit = await (await tenant.Client.GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();

        config.ObjectLockConfiguration.Rule.DefaultRetention.Mode.ShouldBe(ObjectLockRetentionMode.Compliance);
        config.ObjectLockConfiguration.Rule.DefaultRetention.Days.ShouldBe(3);
        config.ObjectLockConfiguration.Rule.DefaultRetention.Years.ShouldBeNull();
        plainHead.ObjectLockMode.ShouldBe(ObjectLockMode.Compliance);
        plainHead.ObjectLockRetainUntilDate!.Value.ToUniversalTime().ShouldBe(Days(3), TimeSpan.FromMinutes(1));
        explicitHead.ObjectLockMode.ShouldBe(ObjectLockMode.Governance);
        explicitHead.ObjectLockRetainUntilDate!.Value.ToUniversalTime().ShouldBe(Days(1), TimeSpan.FromMinutes(1));
        plain.VersionId.ShouldNotBe(explicitly.VersionId);
        api.ShouldBe(new DefaultRetentionView(vault.Id, true, RetentionMode.Compliance, 3, null, api.Version));
        audit.Items.Where(e => e.Target == vault.Id).Select(e => e.Action).ShouldContain("vault.default-retention");

        // A multipart upload completes into a record as a PutObject does: the bucket's default retention applies.
        var upload = await s3.InitiateMultipartUploadAsync(vault.Name, "parts.bin", Ct);
        var part = await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = vault.Name, Key = "parts.bin", UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream("one part"u8.ToArray()),
        }, Ct);
        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = vault.Name, Key = "parts.bin", UploadId = upload.UploadId, PartETags = [new PartETag(1, part.ETag)],
        }, Ct);
        var partsHead = await s3.GetObjectMetadataAsync(vault.Name, "parts.bin", Ct);
        partsHead.ObjectLockMode.ShouldBe(ObjectLockMode.Compliance);
        partsHead.ObjectLockRetainUntilDate!.Value.ToUniversalTime().ShouldBe(Days(3), TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task DefaultRetention_AppliesToAnApiWriteWithoutClass_AndAClassKeepsItsOwnRule()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        await tenant.Client.ClassAsync(vault.Id, "public", "P1Y", RetentionMode.Governance);
        await (await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/default-retention",
            new DefaultRetentionRequest(RetentionMode.Compliance, Days: 2), WelkinJson.Client, Ct)).ReadAsync<DefaultRetentionView>();

        var plain = await tenant.Client.RecordAsync(vault.Id, "plain.bin", [1, 2, 3]);
        var classed = await tenant.Client.RecordAsync(vault.Id, "classed.bin", [4, 5, 6], "public");

        plain.Mode.ShouldBe(RetentionMode.Compliance);
        plain.RetainUntil!.Value.ShouldBe(plain.Created.AddDays(2));
        plain.ClassName.ShouldBeNull();
        classed.Mode.ShouldBe(RetentionMode.Governance);
        classed.RetainUntil!.Value.ShouldBe(classed.Created.AddYears(1));
    }

    [Fact]
    public async Task PutObjectLockConfiguration_WithDaysAndYears_IsMalformedXml_AndANonPositivePeriodInvalidArgument()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;
        Task Configure(DefaultRetention retention) => s3.PutObjectLockConfigurationAsync(new PutObjectLockConfigurationRequest
        {
            BucketName = vault.Name,
            ObjectLockConfiguration = new ObjectLockConfiguration { ObjectLockEnabled = ObjectLockEnabled.Enabled, Rule = new ObjectLockRule { DefaultRetention = retention } },
        }, Ct);

        var both = await Should.ThrowAsync<AmazonS3Exception>(() => Configure(new DefaultRetention { Mode = ObjectLockRetentionMode.Governance, Days = 1, Years = 1 }));
        var neither = await Should.ThrowAsync<AmazonS3Exception>(() => Configure(new DefaultRetention { Mode = ObjectLockRetentionMode.Governance }));
        var zero = await Should.ThrowAsync<AmazonS3Exception>(() => Configure(new DefaultRetention { Mode = ObjectLockRetentionMode.Governance, Years = 0 }));
        var config = await s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = vault.Name }, Ct);

        both.ErrorCode.ShouldBe("MalformedXML");
        neither.ErrorCode.ShouldBe("MalformedXML");
        zero.ErrorCode.ShouldBe("InvalidArgument");
        config.ObjectLockConfiguration.Rule.ShouldBeNull();
    }

    [Fact]
    public async Task ComplianceRetention_CannotBeShortenedRemovedOrSwitched_EvenByAnAccountAdminWithTheBypass()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;
        var until = Days(2);
        var put = await PutAsync(s3, vault.Name, "sox.pdf", r =>
        {
            r.ObjectLockMode = ObjectLockMode.Compliance;
            r.ObjectLockRetainUntilDate = until;
        });

        var shorter = await Should.ThrowAsync<AmazonS3Exception>(() => RetainAsync(s3, vault.Name, "sox.pdf", put.VersionId, ObjectLockRetentionMode.Compliance, Days(1), bypass: true));
        var governance = await Should.ThrowAsync<AmazonS3Exception>(() => RetainAsync(s3, vault.Name, "sox.pdf", put.VersionId, ObjectLockRetentionMode.Governance, Days(3), bypass: true));
        var removed = await Should.ThrowAsync<AmazonS3Exception>(() => RetainAsync(s3, vault.Name, "sox.pdf", put.VersionId, null, null, bypass: true));
        var deleted = await Should.ThrowAsync<AmazonS3Exception>(() => s3.DeleteObjectAsync(new DeleteObjectRequest
        {
            BucketName = vault.Name, Key = "sox.pdf", VersionId = put.VersionId, BypassGovernanceRetention = true,
        }, Ct));
        var longer = Days(5);
        await RetainAsync(s3, vault.Name, "sox.pdf", put.VersionId, ObjectLockRetentionMode.Compliance, longer);
        var retention = await s3.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = vault.Name, Key = "sox.pdf", VersionId = put.VersionId }, Ct);

        new[] { shorter, governance, removed, deleted }.ShouldAllBe(e => e.ErrorCode == "AccessDenied" && e.StatusCode == HttpStatusCode.Forbidden);
        retention.Retention.Mode.ShouldBe(ObjectLockRetentionMode.Compliance);
        retention.Retention.RetainUntilDate!.Value.ToUniversalTime().ShouldBe(longer, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task GovernanceRetention_IsShortenedOnlyWithTheBypassHeader_AndThePermission()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        var engineer = await (await tenant.Client.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("eng", [Role.Engineer]), WelkinJson.Client, Ct))
            .ReadAsync<PrincipalView>(HttpStatusCode.Created);
        var engineerKey = await app.KeyOfAsync(tenant.Client, engineer.Id);
        using var engineerS3 = app.S3Client(engineerKey.Id, engineerKey.Secret, checksumsWhenRequired: true);
        var put = await PutAsync(s3, vault.Name, "notes.txt", r =>
        {
            r.ObjectLockMode = ObjectLockMode.Governance;
            r.ObjectLockRetainUntilDate = Days(3);
        });

        var noHeader = await Should.ThrowAsync<AmazonS3Exception>(() => RetainAsync(s3, vault.Name, "notes.txt", put.VersionId, ObjectLockRetentionMode.Governance, Days(1)));
        var noPermission = await Should.ThrowAsync<AmazonS3Exception>(() =>
            RetainAsync(engineerS3, vault.Name, "notes.txt", put.VersionId, ObjectLockRetentionMode.Governance, Days(1), bypass: true));
        var shorter = Days(1);
        await RetainAsync(s3, vault.Name, "notes.txt", put.VersionId, ObjectLockRetentionMode.Governance, shorter, bypass: true);
        var after = await s3.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = vault.Name, Key = "notes.txt" }, Ct);
        await RetainAsync(s3, vault.Name, "notes.txt", put.VersionId, null, null, bypass: true);
        var removed = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = vault.Name, Key = "notes.txt" }, Ct));
        var audit = await (await tenant.Client.GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();

        noHeader.ErrorCode.ShouldBe("AccessDenied");
        noPermission.ErrorCode.ShouldBe("AccessDenied");
        after.Retention.RetainUntilDate!.Value.ToUniversalTime().ShouldBe(shorter, TimeSpan.FromSeconds(1));
        removed.ErrorCode.ShouldBe("NoSuchObjectLockConfiguration");
        removed.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        audit.Items.Where(e => e.Target == put.VersionId).Select(e => e.Action).ShouldBe(["vault.record.write", "vault.record.retention-bypass", "vault.record.retention-bypass"]);
    }

    [Fact]
    public async Task LegalHold_BlocksDelete_UntilItIsTurnedOff()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;
        var put = await PutAsync(s3, vault.Name, "case.eml");
        Task Hold(ObjectLockLegalHoldStatus status) => s3.PutObjectLegalHoldAsync(new PutObjectLegalHoldRequest
        {
            BucketName = vault.Name, Key = "case.eml", VersionId = put.VersionId, LegalHold = new ObjectLockLegalHold { Status = status },
        }, Ct);
        var delete = new DeleteObjectRequest { BucketName = vault.Name, Key = "case.eml", VersionId = put.VersionId, BypassGovernanceRetention = true };

        var before = await s3.GetObjectLegalHoldAsync(new GetObjectLegalHoldRequest { BucketName = vault.Name, Key = "case.eml" }, Ct);
        await Hold(ObjectLockLegalHoldStatus.On);
        await Hold(ObjectLockLegalHoldStatus.On);
        var held = await s3.GetObjectLegalHoldAsync(new GetObjectLegalHoldRequest { BucketName = vault.Name, Key = "case.eml" }, Ct);
        var refused = await Should.ThrowAsync<AmazonS3Exception>(() => s3.DeleteObjectAsync(delete, Ct));
        await Hold(ObjectLockLegalHoldStatus.Off);
        var deleted = await s3.DeleteObjectAsync(delete, Ct);

        before.LegalHold.Status.ShouldBe(ObjectLockLegalHoldStatus.Off);
        held.LegalHold.Status.ShouldBe(ObjectLockLegalHoldStatus.On);
        refused.ErrorCode.ShouldBe("AccessDenied");
        deleted.HttpStatusCode.ShouldBe(HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task LegalHoldOff_IsRefused_WhileAHoldPlacedThroughTheApiRemains()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        var put = await PutAsync(s3, vault.Name, "case.eml", r => r.ObjectLockLegalHoldStatus = ObjectLockLegalHoldStatus.On);
        await (await tenant.Client.PutAsync($"/api/v1/vaults/{vault.Id}/records/{put.VersionId}/holds/case-7", null, Ct)).ReadAsync<VaultRecordView>();

        var off = await Should.ThrowAsync<AmazonS3Exception>(() => s3.PutObjectLegalHoldAsync(new PutObjectLegalHoldRequest
        {
            BucketName = vault.Name, Key = "case.eml", LegalHold = new ObjectLockLegalHold { Status = ObjectLockLegalHoldStatus.Off },
        }, Ct));
        var record = await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/records/{put.VersionId}", Ct)).ReadAsync<VaultRecordView>();

        off.ErrorCode.ShouldBe("AccessDenied");
        off.Message.ShouldContain("case-7");
        record.HoldIds.ShouldBe(["case-7", "s3"]);
    }

    [Fact]
    public async Task AnotherAccountsKey_GetsNoSuchBucket_ForEveryLockOperation_AndChangesNothing()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;
        var put = await PutAsync(s3, vault.Name, "secret.txt");
        var (_, _, strangerKey) = await app.AccountWithKeyAsync();
        using var stranger = app.S3Client(strangerKey.Id, strangerKey.Secret, checksumsWhenRequired: true);

        var errors = new[]
        {
            await Should.ThrowAsync<AmazonS3Exception>(() => RetainAsync(stranger, vault.Name, "secret.txt", put.VersionId, ObjectLockRetentionMode.Compliance, Days(9))),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = vault.Name, Key = "secret.txt" }, Ct)),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.PutObjectLegalHoldAsync(new PutObjectLegalHoldRequest
            {
                BucketName = vault.Name, Key = "secret.txt", LegalHold = new ObjectLockLegalHold { Status = ObjectLockLegalHoldStatus.On },
            }, Ct)),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.GetObjectLegalHoldAsync(new GetObjectLegalHoldRequest { BucketName = vault.Name, Key = "secret.txt" }, Ct)),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = vault.Name }, Ct)),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.PutObjectLockConfigurationAsync(new PutObjectLockConfigurationRequest
            {
                BucketName = vault.Name,
                ObjectLockConfiguration = new ObjectLockConfiguration
                {
                    ObjectLockEnabled = ObjectLockEnabled.Enabled,
                    Rule = new ObjectLockRule { DefaultRetention = new DefaultRetention { Mode = ObjectLockRetentionMode.Compliance, Years = 100 } },
                },
            }, Ct)),
            await Should.ThrowAsync<AmazonS3Exception>(() => stranger.PutBucketVersioningAsync(new PutBucketVersioningRequest
            {
                BucketName = vault.Name, VersioningConfig = new S3BucketVersioningConfig { Status = VersionStatus.Enabled },
            }, Ct)),
        };
        var head = await s3.GetObjectMetadataAsync(vault.Name, "secret.txt", Ct);
        var config = await s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = vault.Name }, Ct);

        errors.Select(e => e.ErrorCode).ShouldAllBe(code => code == "NoSuchBucket");
        head.ObjectLockMode.ShouldBeNull();
        head.ObjectLockLegalHoldStatus.ShouldBe(ObjectLockLegalHoldStatus.Off);
        config.ObjectLockConfiguration.Rule.ShouldBeNull();
    }

    [Fact]
    public async Task BadLockInput_GetsS3Errors_NeverA500_AndChangesNothing()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        var put = await PutAsync(s3, vault.Name, "a.txt");
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        using var raw = app.Raw();
        async Task<(HttpStatusCode Status, string Body)> RetentionBody(string body)
        {
#pragma warning disable CA5351 // Content-MD5 is S3's integrity header, not a security measure.
            var md5 = Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(body)));
#pragma warning restore CA5351
            using var answer = await raw.SendAsync(LockRequests.Put(app.S3Endpoint, $"/{vault.Name}/a.txt", "retention", body, key.Id, key.Secret, [("Content-MD5", md5)]), Ct);
            return (answer.StatusCode, await answer.Content.ReadAsStringAsync(Ct));
        }

        var badMode = await Should.ThrowAsync<AmazonS3Exception>(() => PutAsync(s3, vault.Name, "b.txt", r =>
        {
            r.ObjectLockMode = new ObjectLockMode("FOREVER");
            r.ObjectLockRetainUntilDate = Days(1);
        }));
        var badHold = await Should.ThrowAsync<AmazonS3Exception>(() => PutAsync(s3, vault.Name, "b.txt", r => r.ObjectLockLegalHoldStatus = new ObjectLockLegalHoldStatus("MAYBE")));
        var entity = await RetentionBody("<!DOCTYPE r [<!ENTITY x \"y\">]><Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>&x;</RetainUntilDate></Retention>");
        var unknownMode = await RetentionBody("<Retention><Mode>FOREVER</Mode><RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>");
        var badDate = await RetentionBody("<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>next year</RetainUntilDate></Retention>");
        var modeOnly = await RetentionBody("<Retention><Mode>GOVERNANCE</Mode></Retention>");
        var pastDate = await RetentionBody("<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2001-01-01T00:00:00Z</RetainUntilDate></Retention>");
        var noKey = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = vault.Name, Key = "none.txt" }, Ct));
        var noVersion = await Should.ThrowAsync<AmazonS3Exception>(() => s3.GetObjectLegalHoldAsync(new GetObjectLegalHoldRequest
        {
            BucketName = vault.Name, Key = "a.txt", VersionId = "vrc_01h00000000000000000000000",
        }, Ct));
        var head = await s3.GetObjectMetadataAsync(vault.Name, "a.txt", Ct);
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = vault.Name }, Ct);

        badMode.ErrorCode.ShouldBe("InvalidArgument");
        badHold.ErrorCode.ShouldBe("InvalidArgument");
        entity.Status.ShouldBe(HttpStatusCode.BadRequest);
        entity.Body.ShouldContain("<Code>MalformedXML</Code>");
        unknownMode.Body.ShouldContain("<Code>MalformedXML</Code>");
        badDate.Body.ShouldContain("<Code>MalformedXML</Code>");
        modeOnly.Body.ShouldContain("<Code>MalformedXML</Code>");
        pastDate.Status.ShouldBe(HttpStatusCode.BadRequest);
        pastDate.Body.ShouldContain("<Code>InvalidArgument</Code>");
        noKey.ErrorCode.ShouldBe("NoSuchKey");
        noVersion.ErrorCode.ShouldBe("NoSuchVersion");
        head.VersionId.ShouldBe(put.VersionId);
        head.ObjectLockMode.ShouldBeNull();
        listed.S3Objects.Select(o => o.Key).ShouldBe(["a.txt"]);
    }

    [Fact]
    public async Task PutBucketVersioning_Enabled_IsAccepted_AndSuspended_IsInvalidBucketState()
    {
        var (_, vault, s3) = await BucketAsync();
        using var _ = s3;

        var enabled = await s3.PutBucketVersioningAsync(new PutBucketVersioningRequest
        {
            BucketName = vault.Name, VersioningConfig = new S3BucketVersioningConfig { Status = VersionStatus.Enabled },
        }, Ct);
        var suspended = await Should.ThrowAsync<AmazonS3Exception>(() => s3.PutBucketVersioningAsync(new PutBucketVersioningRequest
        {
            BucketName = vault.Name, VersioningConfig = new S3BucketVersioningConfig { Status = VersionStatus.Suspended },
        }, Ct));
        var versioning = await s3.GetBucketVersioningAsync(vault.Name, Ct);

        enabled.HttpStatusCode.ShouldBe(HttpStatusCode.OK);
        suspended.ErrorCode.ShouldBe("InvalidBucketState");
        suspended.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        versioning.VersioningConfig.Status.ShouldBe(VersionStatus.Enabled);
    }

    [Fact]
    public async Task DefaultRetention_ThroughTheApi_IsValidated_AndNeedsObjectLock()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        var unlocked = await (await tenant.Client.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(tenant.Contract.Id, 100, "plain", ObjectLock: false), WelkinJson.Client, Ct))
            .ReadAsync<VaultView>(HttpStatusCode.Created);

        var set = await (await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/default-retention",
            new DefaultRetentionRequest(RetentionMode.Governance, Years: 1), WelkinJson.Client, Ct)).ReadAsync<DefaultRetentionView>();
        var config = await s3.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = vault.Name }, Ct);
        var both = await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/default-retention",
            new DefaultRetentionRequest(RetentionMode.Governance, Days: 1, Years: 1), WelkinJson.Client, Ct);
        var noLock = await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{unlocked.Id}/default-retention",
            new DefaultRetentionRequest(RetentionMode.Governance, Days: 1), WelkinJson.Client, Ct);
        var removed = await (await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/default-retention",
            new DefaultRetentionRequest(), WelkinJson.Client, Ct)).ReadAsync<DefaultRetentionView>();

        set.Mode.ShouldBe(RetentionMode.Governance);
        set.Years.ShouldBe(1);
        config.ObjectLockConfiguration.Rule.DefaultRetention.Years.ShouldBe(1);
        both.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        noLock.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        removed.Mode.ShouldBeNull();
    }

    [Fact]
    public async Task LockBodies_WithoutContentMd5OrChecksum_OrWithAWrongOne_AreRefused()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        var put = await PutAsync(s3, vault.Name, "a.txt");
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        const string body = "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>ON</Status></LegalHold>";
        using var raw = app.Raw();

        using var none = await raw.SendAsync(LockRequests.Put(app.S3Endpoint, $"/{vault.Name}/a.txt", "legal-hold", body, key.Id, key.Secret, []), Ct);
        using var wrong = await raw.SendAsync(LockRequests.Put(app.S3Endpoint, $"/{vault.Name}/a.txt", "legal-hold", body, key.Id, key.Secret,
            [("Content-MD5", Convert.ToBase64String(new byte[16]))]), Ct);
        using var crc = await raw.SendAsync(LockRequests.Put(app.S3Endpoint, $"/{vault.Name}/a.txt", "legal-hold", body, key.Id, key.Secret,
            [("x-amz-checksum-crc32", LockRequests.Crc32(body))]), Ct);
        var hold = await s3.GetObjectLegalHoldAsync(new GetObjectLegalHoldRequest { BucketName = vault.Name, Key = "a.txt", VersionId = put.VersionId }, Ct);

        none.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await none.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>InvalidRequest</Code>");
        wrong.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await wrong.Content.ReadAsStringAsync(Ct)).ShouldContain("<Code>BadDigest</Code>");
        crc.StatusCode.ShouldBe(HttpStatusCode.OK, await crc.Content.ReadAsStringAsync(Ct));
        hold.LegalHold.Status.ShouldBe(ObjectLockLegalHoldStatus.On);
    }

    [Fact]
    public async Task AwsCli_SetsAndReadsTheLockConfigurationRetentionAndLegalHold()
    {
        var (tenant, vault, s3) = await BucketAsync();
        using var _ = s3;
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        var dir = Welkin.Testing.TempDirectories.NewPath("welkin-s3lock-");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "report.csv"), "day,amount\n1,100\n", Ct);
        var until = DateTime.UtcNow.AddDays(30).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            var config = await AwsAsync(key, "s3api", "put-object-lock-configuration", "--bucket", vault.Name, "--object-lock-configuration",
                """{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":1}}}""");
            var readConfig = await AwsAsync(key, "s3api", "get-object-lock-configuration", "--bucket", vault.Name);
            var put = await AwsAsync(key, "s3api", "put-object", "--bucket", vault.Name, "--key", "report.csv", "--body", Path.Combine(dir, "report.csv"));
            var byDefault = await AwsAsync(key, "s3api", "get-object-retention", "--bucket", vault.Name, "--key", "report.csv");
            var extend = await AwsAsync(key, "s3api", "put-object-retention", "--bucket", vault.Name, "--key", "report.csv",
                "--retention", $$"""{"Mode":"COMPLIANCE","RetainUntilDate":"{{until}}"}""");
            var extended = await AwsAsync(key, "s3api", "get-object-retention", "--bucket", vault.Name, "--key", "report.csv");
            var hold = await AwsAsync(key, "s3api", "put-object-legal-hold", "--bucket", vault.Name, "--key", "report.csv", "--legal-hold", "Status=ON");
            var held = await AwsAsync(key, "s3api", "get-object-legal-hold", "--bucket", vault.Name, "--key", "report.csv");
            var shorten = await AwsAsync(key, "s3api", "put-object-retention", "--bucket", vault.Name, "--key", "report.csv",
                "--retention", """{"Mode":"GOVERNANCE","RetainUntilDate":"2099-01-01T00:00:00Z"}""", "--bypass-governance-retention");

            config.Exit.ShouldBe(0, config.Err);
            readConfig.Out.ShouldContain("\"Days\": 1");
            put.Exit.ShouldBe(0, put.Err);
            byDefault.Out.ShouldContain("\"Mode\": \"GOVERNANCE\"");
            extend.Exit.ShouldBe(0, extend.Err);
            extended.Out.ShouldContain("\"Mode\": \"COMPLIANCE\"");
            extended.Out.ShouldContain(until[..16]);
            hold.Exit.ShouldBe(0, hold.Err);
            held.Out.ShouldContain("\"Status\": \"ON\"");
            shorten.Exit.ShouldNotBe(0);
            shorten.Err.ShouldContain("AccessDenied");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
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
            ["AWS_REQUEST_CHECKSUM_CALCULATION"] = "when_required",
            ["AWS_RESPONSE_CHECKSUM_VALIDATION"] = "when_required",
        }, Ct);
}

/// <summary>Hand-signed requests with a body, for what the SDK will not send: a lock body without its integrity header.</summary>
internal static class LockRequests
{
    public static HttpRequestMessage Put(Uri endpoint, string path, string query, string body, string keyId, string secret, IReadOnlyList<(string Name, string Value)> extra)
    {
        var time = DateTimeOffset.UtcNow;
        var amzDate = HandSigned.AmzDate(time);
        var date = amzDate[..8];
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        var payload = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        var headers = new Dictionary<string, string>
        {
            ["host"] = endpoint.Authority, ["x-amz-content-sha256"] = payload, ["x-amz-date"] = amzDate,
        };
        foreach (var (name, value) in extra)
        {
            headers[name.ToLowerInvariant()] = value;
        }
        var names = headers.Keys.Order(StringComparer.Ordinal).ToList();
        var canonical = Welkin.Server.S3.SigV4.CanonicalRequest(
            new Welkin.Server.S3.SigV4Request("PUT", path, query, n => headers.GetValueOrDefault(n), payload), names, presigned: false)!;
        var scope = $"{date}/us-east-1/s3/aws4_request";
        var signature = Welkin.Server.S3.SigV4.Signature(Welkin.Server.S3.SigV4.SigningKey(secret, date, "us-east-1", "s3"),
            Welkin.Server.S3.SigV4.StringToSign(amzDate, scope, canonical));
        var request = new HttpRequestMessage(HttpMethod.Put, new Uri(endpoint, path + "?" + query)) { Content = new ByteArrayContent(bytes) };
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", payload);
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        foreach (var (name, value) in extra)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }
        request.Headers.TryAddWithoutValidation("Authorization",
            $"{Welkin.Server.S3.SigV4.Algorithm} Credential={keyId}/{scope}, SignedHeaders={string.Join(';', names)}, Signature={signature}");
        return request;
    }

    /// <summary>The CRC-32 (IEEE) of the text's UTF-8 bytes, base64 of its big-endian bytes, as x-amz-checksum-crc32 carries it.</summary>
    public static string Crc32(string text)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(text))
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, ~crc);
        return Convert.ToBase64String(bytes);
    }
}
