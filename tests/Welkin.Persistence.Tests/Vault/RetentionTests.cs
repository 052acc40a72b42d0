using Welkin.Contracts;
using Welkin.Core.Vault;
using Welkin.Testing;

namespace Welkin.Persistence.Tests.Vault;

/// <summary>The retention rules of records, through the services on a real database: compliance yields to no one, governance to an explicit bypass only, holds to nothing.</summary>
public sealed class RetentionTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Compliance_CannotBeShortenedRemovedSwitchedOrDeleted_ByAnyone(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();
        (await w.Vaults.CreateClassAsync(w.Admin, vault.Id, new CreateRetentionClassRequest("sox", "P7Y", RetentionMode.Compliance), VaultWorld.Ct)).Error.ShouldBeNull();
        var record = await w.PutAsync(vault.Id, "ledgers/2025.csv", "q4 ledger", "sox");
        var until = record.RetainUntil!.Value;
        until.ShouldBe(w.Clock.GetUtcNow().AddYears(7));

        foreach (var caller in new[] { w.Admin, w.Engineer })
        {
            var attempts = new RecordRetentionRequest[]
            {
                new(RetentionMode.Compliance, until.AddDays(-1), BypassGovernance: true),
                new(null, null, BypassGovernance: true),
                new(RetentionMode.Governance, until.AddYears(1), BypassGovernance: true),
            };
            foreach (var attempt in attempts)
            {
                (await w.Records.SetRetentionAsync(caller, vault.Id, record.Id, attempt, VaultWorld.Ct)).Error!.Code.ShouldBe(RetentionRules.ComplianceRule);
            }
            (await w.Destruction.DeleteAsync(caller, vault.Id, record.Id, bypassGovernance: true, null, VaultWorld.Ct)).Error!.Code.ShouldBe(RetentionRules.ComplianceRule);
        }
        // The provider's administrators do not change a tenant's records at all.
        (await w.Records.SetRetentionAsync(w.Provider, vault.Id, record.Id, new RecordRetentionRequest(null, null, true), VaultWorld.Ct)).Error!.Code.ShouldBe("forbidden");
        (await w.Destruction.DeleteAsync(w.Provider, vault.Id, record.Id, true, null, VaultWorld.Ct)).Error!.Code.ShouldBe("forbidden");

        var longer = await w.Records.SetRetentionAsync(w.Engineer, vault.Id, record.Id, new RecordRetentionRequest(RetentionMode.Compliance, until.AddYears(1)), VaultWorld.Ct);
        longer.Value.RetainUntil.ShouldBe(until.AddYears(1));
        (await w.ReadAsync(vault.Id, record.Id)).ShouldBe("q4 ledger");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Governance_ShortenedOnlyWithBypassPermissionAndFlag_AndAudited(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();
        (await w.Vaults.CreateClassAsync(w.Admin, vault.Id, new CreateRetentionClassRequest("public", "P1Y", RetentionMode.Governance), VaultWorld.Ct)).Error.ShouldBeNull();
        var record = await w.PutAsync(vault.Id, "notes.txt", "public notes", "public");
        var shorter = new RecordRetentionRequest(RetentionMode.Governance, record.RetainUntil!.Value.AddMonths(-6), BypassGovernance: true);

        (await w.Records.SetRetentionAsync(w.Engineer, vault.Id, record.Id, shorter, VaultWorld.Ct)).Error!.Code.ShouldBe(RetentionRules.GovernanceRule);
        (await w.Records.SetRetentionAsync(w.Admin, vault.Id, record.Id, shorter with { BypassGovernance = false }, VaultWorld.Ct)).Error!.Code
            .ShouldBe(RetentionRules.GovernanceRule);
        (await w.Destruction.DeleteAsync(w.Admin, vault.Id, record.Id, bypassGovernance: false, null, VaultWorld.Ct)).Error!.Code.ShouldBe(RetentionRules.GovernanceRule);

        var changed = await w.Records.SetRetentionAsync(w.Admin, vault.Id, record.Id, shorter, VaultWorld.Ct);
        changed.Value.RetainUntil.ShouldBe(shorter.RetainUntil);
        (await w.AuditActionsAsync(record.Id)).ShouldContain("vault.record.retention-bypass");

        // Lengthening, and switching up to compliance, needs no bypass.
        var up = await w.Records.SetRetentionAsync(w.Engineer, vault.Id, record.Id, new RecordRetentionRequest(RetentionMode.Compliance, record.RetainUntil!.Value), VaultWorld.Ct);
        up.Value.Mode.ShouldBe(RetentionMode.Compliance);
        (await w.Records.SetRetentionAsync(w.Admin, vault.Id, record.Id, new RecordRetentionRequest(null, null, true), VaultWorld.Ct)).Error!.Code
            .ShouldBe(RetentionRules.ComplianceRule);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Governance_DeleteWithBypass_DestroysAndIssuesCertificate(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();
        (await w.Vaults.CreateClassAsync(w.Admin, vault.Id, new CreateRetentionClassRequest("public", "P1Y", RetentionMode.Governance), VaultWorld.Ct)).Error.ShouldBeNull();
        var record = await w.PutAsync(vault.Id, "notes.txt", "public notes", "public");

        var certificate = await w.Destruction.DeleteAsync(w.Admin, vault.Id, record.Id, bypassGovernance: true, null, VaultWorld.Ct);

        certificate.Error.ShouldBeNull();
        RecordDestruction.Verify(certificate.Value, w.SigningKey.Public).ShouldBeNull();
        (await w.Records.GetAsync(w.Admin, vault.Id, record.Id, VaultWorld.Ct)).Value.State.ShouldBe(VaultRecordState.Shredded);
        (await w.Vaults.GetAsync(w.Admin, vault.Id, VaultWorld.Ct)).Value.StoredBytes.ShouldBe(0);
        (await w.AuditActionsAsync(record.Id)).ShouldBe(["vault.record.write", "vault.record.delete-bypass", "vault.record.shred"]);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task LegalHold_KeepsARecord_WhateverItsRetention_UntilRemoved(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();
        (await w.Vaults.CreateClassAsync(w.Admin, vault.Id, new CreateRetentionClassRequest("short", "P30D", RetentionMode.Compliance, AutoDelete: true), VaultWorld.Ct))
            .Error.ShouldBeNull();
        var plain = await w.PutAsync(vault.Id, "free.txt", "no retention");
        var kept = await w.PutAsync(vault.Id, "kept.txt", "held", "short");
        (await w.Records.PlaceHoldAsync(w.Engineer, vault.Id, plain.Id, "case-2026-17", VaultWorld.Ct)).Value.HoldIds.ShouldBe(["case-2026-17"]);
        (await w.Records.PlaceHoldAsync(w.Engineer, vault.Id, kept.Id, "case-2026-17", VaultWorld.Ct)).Error.ShouldBeNull();

        (await w.Destruction.DeleteAsync(w.Admin, vault.Id, plain.Id, true, null, VaultWorld.Ct)).Error!.Code.ShouldBe(RetentionRules.LegalHoldRule);
        w.Clock.Advance(TimeSpan.FromDays(31));
        (await w.Destruction.SweepAsync(VaultWorld.Ct)).ShouldBe(0);
        (await w.ReadAsync(vault.Id, kept.Id)).ShouldBe("held");

        (await w.Records.RemoveHoldAsync(w.Engineer, vault.Id, kept.Id, "case-2026-17", VaultWorld.Ct)).Value.HoldIds.ShouldBeEmpty();
        (await w.Destruction.SweepAsync(VaultWorld.Ct)).ShouldBe(1);
        (await w.Records.GetAsync(w.Admin, vault.Id, kept.Id, VaultWorld.Ct)).Value.State.ShouldBe(VaultRecordState.Shredded);
        (await w.Records.GetAsync(w.Admin, vault.Id, plain.Id, VaultWorld.Ct)).Value.State.ShouldBe(VaultRecordState.Stored);
        (await w.Records.RemoveHoldAsync(w.Engineer, vault.Id, kept.Id, "case-2026-17", VaultWorld.Ct)).Error!.Code.ShouldBe("invalid-state");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task ExpirySweep_DestroysOnlyExpiredAutoDelete_WithCertificatesThatVerify(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();
        (await w.Vaults.CreateClassAsync(w.Admin, vault.Id, new CreateRetentionClassRequest("auto", "P1M", RetentionMode.Compliance, AutoDelete: true), VaultWorld.Ct)).Error.ShouldBeNull();
        (await w.Vaults.CreateClassAsync(w.Admin, vault.Id, new CreateRetentionClassRequest("keep", "P1M", RetentionMode.Compliance), VaultWorld.Ct)).Error.ShouldBeNull();
        var auto = await w.PutAsync(vault.Id, "a", "expires", "auto");
        var keep = await w.PutAsync(vault.Id, "b", "stays", "keep");

        w.Clock.Advance(TimeSpan.FromDays(27));
        (await w.Destruction.SweepAsync(VaultWorld.Ct)).ShouldBe(0);
        w.Clock.Advance(TimeSpan.FromDays(5));
        (await w.Destruction.SweepAsync(VaultWorld.Ct)).ShouldBe(1);

        var certificates = (await w.Destruction.CertificatesAsync(w.Engineer, vault.Id, null, 100, VaultWorld.Ct)).Value.Items;
        certificates.Select(c => c.RecordId).ShouldBe([auto.Id]);
        RecordDestruction.Verify(certificates[0], w.SigningKey.Public).ShouldBeNull();
        certificates[0].Certificate.ShouldContain(auto.Sha256);
        certificates[0].Certificate.ShouldContain("\"reason\":\"retention-expired\"");
        var tampered = certificates[0] with { Certificate = certificates[0].Certificate.Replace("\"sizeBytes\":7", "\"sizeBytes\":8", StringComparison.Ordinal) };
        tampered.Certificate.ShouldNotBe(certificates[0].Certificate);
        RecordDestruction.Verify(tampered, w.SigningKey.Public).ShouldNotBeNull();
        (await w.AuditActionsAsync(auto.Id)).ShouldContain("vault.record.shred");

        // Expired without auto-delete: stays until an allowed delete, which no longer needs a bypass.
        (await w.ReadAsync(vault.Id, keep.Id)).ShouldBe("stays");
        (await w.Destruction.DeleteAsync(w.Engineer, vault.Id, keep.Id, false, null, VaultWorld.Ct)).Error.ShouldBeNull();
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task ExpirySweep_DestroysManyRecordsSideBySide_EachOnceWithItsCertificate_AndTheVaultAndAuditChainAgree(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();
        (await w.Vaults.CreateClassAsync(w.Admin, vault.Id, new CreateRetentionClassRequest("auto", "P1D", RetentionMode.Governance, AutoDelete: true), VaultWorld.Ct)).Error.ShouldBeNull();
        var records = new List<VaultRecordView>();
        for (var i = 0; i < 60; i++)
        {
            records.Add(await w.PutAsync(vault.Id, $"r/{i}", $"record {i}", "auto"));
        }
        var held = records[7];
        (await w.Records.PlaceHoldAsync(w.Admin, vault.Id, held.Id, "case-1", VaultWorld.Ct)).Error.ShouldBeNull();

        w.Clock.Advance(TimeSpan.FromDays(2));
        (await w.Destruction.SweepAsync(VaultWorld.Ct)).ShouldBe(59);
        (await w.Destruction.SweepAsync(VaultWorld.Ct)).ShouldBe(0);

        var certificates = (await w.Destruction.CertificatesAsync(w.Admin, vault.Id, null, 100, VaultWorld.Ct)).Value.Items;
        certificates.Select(c => c.RecordId).Order().ShouldBe(records.Where(r => r != held).Select(r => r.Id).Order());
        certificates.ShouldAllBe(c => RecordDestruction.Verify(c, w.SigningKey.Public) == null);
        var after = (await w.Vaults.GetAsync(w.Admin, vault.Id, VaultWorld.Ct)).Value;
        (after.Records, after.StoredBytes).ShouldBe((1, held.SizeBytes));
        (await w.ReadAsync(vault.Id, held.Id)).ShouldBe("record 7");
        (await w.Audit.VerifyAsync(w.Store.Db, VaultWorld.Ct)).Valid.ShouldBeTrue();
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task ContractTermination_DestroysWhatNothingKeeps_ButNeverARecordBeforeItsTime(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync(capacityGiB: 4);
        (await w.Vaults.CreateClassAsync(w.Admin, vault.Id, new CreateRetentionClassRequest("public", "P1Y", RetentionMode.Governance), VaultWorld.Ct)).Error.ShouldBeNull();
        var free = await w.PutAsync(vault.Id, "free.txt", "no retention");
        var kept = await w.PutAsync(vault.Id, "kept.txt", "retained", "public");

        var first = await w.ContractResources.ReleaseContractAsync(w.Provider, w.ContractId, VaultWorld.Ct);

        first.Error!.Code.ShouldBe("records-retained");
        (await w.Records.GetAsync(w.Admin, vault.Id, free.Id, VaultWorld.Ct)).Value.State.ShouldBe(VaultRecordState.Shredded);
        (await w.Destruction.CertificateAsync(w.Admin, vault.Id, free.Id, VaultWorld.Ct)).Value.Certificate.ShouldContain("\"reason\":\"contract-terminated\"");
        (await w.ReadAsync(vault.Id, kept.Id)).ShouldBe("retained");

        w.Clock.Advance(TimeSpan.FromDays(366));
        (await w.ContractResources.ReleaseContractAsync(w.Provider, w.ContractId, VaultWorld.Ct)).Value.ShouldBe(1);
        (await w.Vaults.GetAsync(w.Admin, vault.Id, VaultWorld.Ct)).Value.State.ShouldBe(VaultState.Deleted);
        (await w.Vaults.CreateAsync(w.Admin, new CreateVaultRequest(w.ContractId, 4), null, VaultWorld.Ct)).Error.ShouldBeNull();
    }
}
