using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Vault;
using Welkin.Server.Tests.Security;
using Welkin.Testing;

namespace Welkin.Server.Tests.Vault;

/// <summary>The auditor's report of a vault: what it lists, when its verdict turns false, who may read it, and its HTML.</summary>
public sealed class SoxReportTests
{
    private const string HostileKey = "<img src=x onerror=alert(1)>.txt";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Report_ListsClassesHoldsBypassesAndDestructions_AndItsVerdictIsTrue()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (tenant, vault, records) = await HistoryAsync(app);
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);

        var report = await (await auditor.GetAsync($"/api/v1/vaults/{vault.Id}/sox-report", Ct)).ReadAsync<SoxReportView>();

        report.Findings.ShouldBeEmpty();
        report.Intact.ShouldBeTrue();
        report.Verdict.ShouldBe(SoxReports.IntactVerdict);
        report.Classes.Select(c => (c.Name, c.Mode)).ShouldBe([("public", RetentionMode.Governance), ("sox", RetentionMode.Compliance)]);
        report.ConfigurationHistory.Select(e => e.Action).ShouldBe(["vault.create", "vault.class.create", "vault.class.create"]);
        report.Holds.Select(e => (e.Action, e.Target)).ShouldBe([("vault.record.hold", records.Held.Id)]);
        report.Bypasses.Select(e => (e.Action, e.Target)).ShouldBe([("vault.record.delete-bypass", records.Bypassed.Id)]);
        report.RecordsWritten.Select(e => e.Target).ShouldBe([records.Expired.Id, records.Held.Id, records.Bypassed.Id]);
        var expired = report.Destructions.Single(d => d.RecordId == records.Expired.Id);
        (expired.SignatureValid, expired.OnTime, expired.Reason, expired.AllowedBy).ShouldBe((true, true, RecordDestruction.ExpiredReason, null));
        var bypassed = report.Destructions.Single(d => d.RecordId == records.Bypassed.Id);
        (bypassed.SignatureValid, bypassed.OnTime, bypassed.Key).ShouldBe((true, false, HostileKey));
        bypassed.AllowedBy.ShouldNotBeNull().ShouldContain("vault.record.delete-bypass");
        report.Destructions.Count.ShouldBe(2);
        report.AuditChain.Intact.ShouldBeTrue();
        report.AuditChain.Checkpoints.ShouldNotBeEmpty();
        report.AuditChain.FirstEntry.ShouldBe(report.ConfigurationHistory[0].Seq);

        // The account's own administrator reads the same report.
        (await (await tenant.GetAsync($"/api/v1/vaults/{vault.Id}/sox-report", Ct)).ReadAsync<SoxReportView>()).Intact.ShouldBeTrue();
    }

    [Fact]
    public async Task Html_EscapesARecordsHostileKey_AndStatesTheVerdict()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (tenant, vault, _) = await HistoryAsync(app);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/vaults/{vault.Id}/sox-report");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));

        using var response = await tenant.SendAsync(request, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        response.Headers.GetValues("Content-Security-Policy").Single().ShouldBe(SoxReportHtml.ContentSecurityPolicy);
        var html = await response.Content.ReadAsStringAsync(Ct);
        html.ShouldContain(SoxReports.IntactVerdict);
        html.ShouldContain("&lt;img src=x onerror=alert(1)&gt;.txt");
        html.ShouldNotContain("<img");
    }

    [Fact]
    public async Task TamperedCertificateOrAuditEntry_TurnsTheVerdictFalse_NamingIt()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (tenant, vault, records) = await HistoryAsync(app);
        await TamperCertificateAsync(app, records.Expired.Id);

        var report = await (await tenant.GetAsync($"/api/v1/vaults/{vault.Id}/sox-report", Ct)).ReadAsync<SoxReportView>();

        report.Intact.ShouldBeFalse();
        report.Verdict.ShouldNotBe(SoxReports.IntactVerdict);
        report.Findings.Select(f => (f.Code, f.Subject)).ShouldBe([("certificate-invalid", records.Expired.Id)]);
        report.Destructions.Single(d => d.RecordId == records.Expired.Id).SignatureValid.ShouldBeFalse();

        var hold = report.Holds.Single().Seq;
        await using (var db = app.OpenDatabaseFile())
        await using (var command = db.CreateCommand())
        {
            command.CommandText = "UPDATE audit_log SET detail = 'nothing to see' WHERE seq = $seq";
            command.Parameters.AddWithValue("$seq", hold);
            (await command.ExecuteNonQueryAsync(Ct)).ShouldBe(1);
        }

        report = await (await tenant.GetAsync($"/api/v1/vaults/{vault.Id}/sox-report", Ct)).ReadAsync<SoxReportView>();

        report.Intact.ShouldBeFalse();
        report.AuditChain.Intact.ShouldBeFalse();
        report.Findings.ShouldContain(f => f.Code == "entry-altered" && f.Subject == $"audit entry {hold}");
    }

    [Fact]
    public async Task AnotherAccount_GetsNotFound_AndAnEngineerIsForbidden_AndABadPeriodIs400()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var (other, _) = await VaultApi.VaultAsync(app);
        var (_, engineer) = await app.AccountPrincipalAsync(tenant.Client, Role.Engineer);

        await (await other.Client.GetAsync($"/api/v1/vaults/{vault.Id}/sox-report", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await app.As(engineer).GetAsync($"/api/v1/vaults/{vault.Id}/sox-report", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/sox-report?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }

    [Fact]
    public async Task AccountReport_CoversEveryVaultOfThePeriod_DeletedOnesToo_AndNoOtherAccounts()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (tenant, vault, records) = await HistoryAsync(app);
        var second = await (await tenant.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(vault.ContractId, 100, "scratch"), WelkinJson.Client, Ct))
            .ReadAsync<VaultView>(HttpStatusCode.Created);
        await (await tenant.DeleteAsync($"/api/v1/vaults/{second.Id}", Ct)).ReadAsync<VaultView>();
        var (_, elsewhere) = await VaultApi.VaultAsync(app);
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);

        var report = await (await auditor.GetAsync($"/api/v1/accounts/{vault.AccountId}/sox-report", Ct)).ReadAsync<AccountSoxReportView>();

        report.AccountId.ShouldBe(vault.AccountId);
        report.Vaults.Select(v => v.Vault.Id).ShouldBe([vault.Id, second.Id]);
        report.Vaults.ShouldNotContain(v => v.Vault.Id == elsewhere.Id);
        report.From.ShouldBe(vault.Created);
        (report.Intact, report.Verdict).ShouldBe((true, SoxReports.IntactVerdict));
        report.Findings.ShouldBeEmpty();
        report.Vaults[0].Destructions.Select(d => d.RecordId).Order().ShouldBe(new[] { records.Expired.Id, records.Bypassed.Id }.Order());
        report.Vaults[0].Bypasses.Select(e => e.Target).ShouldBe([records.Bypassed.Id]);
        report.Vaults[1].ConfigurationHistory.Select(e => e.Action).ShouldBe(["vault.create", "vault.delete"]);

        // A period that ends before the second vault was created leaves it out; the account's own administrator reads it too.
        var end = Uri.EscapeDataString(vault.Created.AddDays(1).ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        var before = await (await tenant.GetAsync($"/api/v1/accounts/{vault.AccountId}/sox-report?to={end}", Ct)).ReadAsync<AccountSoxReportView>();
        before.Vaults.Select(v => v.Vault.Id).ShouldBe([vault.Id]);
        before.Intact.ShouldBeTrue();
    }

    [Fact]
    public async Task AccountReport_ATamperedCertificateInOneVault_TurnsTheAccountsVerdictFalse_AndItsHtmlEscapesAndStatesIt()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (tenant, vault, records) = await HistoryAsync(app);
        await TamperCertificateAsync(app, records.Expired.Id);

        var report = await (await tenant.GetAsync($"/api/v1/accounts/{vault.AccountId}/sox-report", Ct)).ReadAsync<AccountSoxReportView>();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/accounts/{vault.AccountId}/sox-report");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));
        using var response = await tenant.SendAsync(request, Ct);

        report.Intact.ShouldBeFalse();
        report.Verdict.ShouldNotBe(SoxReports.IntactVerdict);
        report.Findings.Select(f => (f.Code, f.Subject)).ShouldBe([("certificate-invalid", records.Expired.Id)]);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        response.Headers.GetValues("Content-Security-Policy").Single().ShouldBe(SoxReportHtml.ContentSecurityPolicy);
        var html = await response.Content.ReadAsStringAsync(Ct);
        html.ShouldContain(report.Verdict);
        html.ShouldContain($"Vault records ({vault.Id})");
        html.ShouldContain("&lt;img src=x onerror=alert(1)&gt;.txt");
        html.ShouldNotContain("<img");
    }

    [Fact]
    public async Task AccountReport_AnotherAccount_GetsNotFound_AndAnEngineerIsForbidden_AndABadPeriodIs400()
    {
        await using var app = new SecurityApp();
        await app.InitializeAsync();
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var (other, _) = await VaultApi.VaultAsync(app);
        var (_, engineer) = await app.AccountPrincipalAsync(tenant.Client, Role.Engineer);
        var auditor = await app.ProviderPrincipalAsync(Role.Auditor);

        await (await other.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/sox-report", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await app.As(engineer).GetAsync($"/api/v1/accounts/{tenant.AccountId}/sox-report", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await auditor.GetAsync("/api/v1/accounts/acc_01h00000000000000000000000/sox-report", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/sox-report?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        (await (await tenant.Client.GetAsync($"/api/v1/accounts/{tenant.AccountId}/sox-report", Ct)).ReadAsync<AccountSoxReportView>())
            .Vaults.Select(v => v.Vault.Id).ShouldBe([vault.Id]);
    }

    /// <summary>Rewrites a stored certificate's statement behind the server's back, as someone with the database file could.</summary>
    private static async Task TamperCertificateAsync(SecurityApp app, string recordId)
    {
        await using var db = app.OpenDatabaseFile();
        await using var command = db.CreateCommand();
        command.CommandText = "UPDATE vault_certificates SET statement = replace(statement, 'retention-expired', 'deleted') WHERE record_id = $id";
        command.Parameters.AddWithValue("$id", recordId);
        (await command.ExecuteNonQueryAsync(Ct)).ShouldBe(1);
    }

    private sealed record Records(VaultRecordView Expired, VaultRecordView Held, VaultRecordView Bypassed);

    /// <summary>
    /// A vault with a governance class that expires in a day and a compliance class; one record
    /// destroyed at expiry, one under a legal hold, one deleted early with a governance bypass.
    /// </summary>
    private static async Task<(HttpClient Tenant, VaultView Vault, Records Records)> HistoryAsync(SecurityApp app)
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var client = tenant.Client;
        await client.ClassAsync(vault.Id, "public", "P1D", RetentionMode.Governance, autoDelete: true);
        await client.ClassAsync(vault.Id, "sox", "P7Y", RetentionMode.Compliance);
        var expired = await client.RecordAsync(vault.Id, "notice.txt", "public notice"u8.ToArray(), "public");
        var held = await client.RecordAsync(vault.Id, "ledger.csv", "ledger"u8.ToArray(), "sox");
        var bypassed = await client.RecordAsync(vault.Id, HostileKey, "draft"u8.ToArray(), "public");
        await (await client.PutAsync($"/api/v1/vaults/{vault.Id}/records/{held.Id}/holds/case-17", null, Ct)).ReadAsync<VaultRecordView>();
        await (await client.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{bypassed.Id}?bypassGovernance=true", Ct)).ReadAsync<DestructionCertificateView>();
        app.Clock.Advance(TimeSpan.FromDays(2));
        // The server's own sweep may run on the clock's advance too; either one destroys the record.
        await app.Services.GetRequiredService<RecordDestruction>().SweepAsync(Ct);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((await client.GetAsync($"/api/v1/vaults/{vault.Id}/certificates/{expired.Id}", Ct)).StatusCode != HttpStatusCode.OK)
        {
            waited.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(60), "the expired record was not destroyed");
            await Task.Delay(100, Ct);
        }
        (await app.Services.GetRequiredService<AuditCheckpoints>().CheckpointAsync(evenIfUnchanged: true, Ct)).IsSuccess.ShouldBeTrue();
        return (client, vault, new Records(expired, held, bypassed));
    }
}
