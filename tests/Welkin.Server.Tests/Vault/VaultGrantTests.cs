using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Server.Tests.Vault;

/// <summary>Regulators registered by the provider, and the grants and signed links through which they read.</summary>
public static class VaultGrantApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh provider-side principal with the regulator role only.</summary>
    public static async Task<PrincipalView> RegulatorAsync(WelkinApp app) =>
        await (await app.Admin().PostAsJsonAsync("/api/v1/principals",
            new CreatePrincipalRequest($"reg-{Guid.NewGuid():n}"[..20], [Role.Regulator], "Financial Conduct Office", PrincipalKind.Service), WelkinJson.Client, Ct))
            .ReadAsync<PrincipalView>(HttpStatusCode.Created);

    public static async Task<HttpClient> AsAsync(WelkinApp app, PrincipalView principal)
    {
        var token = await (await app.Admin().PostAsJsonAsync($"/api/v1/principals/{principal.Id}/tokens", new CreateTokenRequest("regulator"), WelkinJson.Client, Ct))
            .ReadAsync<IssuedToken>(HttpStatusCode.Created);
        return app.As(token.Secret);
    }

    public static async Task<VaultGrantView> GrantAsync(HttpClient giver, CreateVaultGrantRequest request) =>
        await (await giver.PostAsJsonAsync("/api/v1/vault-grants", request, WelkinJson.Client, Ct)).ReadAsync<VaultGrantView>(HttpStatusCode.Created);

    public static async Task<VaultGrantLinksView> LinksAsync(HttpClient regulator, string grantId, CreateVaultGrantLinksRequest? request = null) =>
        await (await regulator.PostAsJsonAsync($"/api/v1/vault-grants/{grantId}/links", request ?? new CreateVaultGrantLinksRequest(), WelkinJson.Client, Ct))
            .ReadAsync<VaultGrantLinksView>();
}

public sealed class VaultGrantTests(VaultApp app) : IClassFixture<VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AccountGrant_DeliversTheGrantedRecordsByLink_WithoutAToken_AndEveryReadIsAudited()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var granted = await tenant.Client.RecordAsync(vault.Id, "case-17/ledger.csv", "debit,credit\n"u8.ToArray());
        var other = await tenant.Client.RecordAsync(vault.Id, "payroll/2026.csv", "private"u8.ToArray());
        var regulatorPrincipal = await VaultGrantApi.RegulatorAsync(app);
        var regulator = await VaultGrantApi.AsAsync(app, regulatorPrincipal);

        var grant = await VaultGrantApi.GrantAsync(tenant.Client,
            new CreateVaultGrantRequest(vault.Id, regulatorPrincipal.Id, DateTimeOffset.UtcNow.AddDays(7), KeyPrefix: "case-17/"));
        grant.ShouldSatisfyAllConditions(
            () => grant.State.ShouldBe(VaultGrantState.Active), () => grant.ByProvider.ShouldBeFalse(), () => grant.AccountId.ShouldBe(tenant.AccountId));
        (await (await regulator.GetAsync("/api/v1/vault-grants", Ct)).ReadAsync<Page<VaultGrantView>>()).Items.Select(g => g.Id).ShouldBe([grant.Id]);

        var links = await VaultGrantApi.LinksAsync(regulator, grant.Id);
        var link = links.Links.ShouldHaveSingleItem();
        link.RecordId.ShouldBe(granted.Id);
        link.Expires.ShouldBeLessThanOrEqualTo(DateTimeOffset.UtcNow.AddSeconds(301));
        using var fetched = await app.Anonymous().GetAsync(link.Url, Ct);
        fetched.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await fetched.Content.ReadAsByteArrayAsync(Ct)).ShouldBe("debit,credit\n"u8.ToArray());
        fetched.Headers.CacheControl!.NoStore.ShouldBeTrue();

        // A record outside the grant has no link, whoever asks.
        await (await regulator.PostAsJsonAsync($"/api/v1/vault-grants/{grant.Id}/links", new CreateVaultGrantLinksRequest([other.Id]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");

        var audit = await (await tenant.Client.GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();
        var read = audit.Items.Where(e => e.Action == "vault.grant.read").ShouldHaveSingleItem();
        read.ShouldSatisfyAllConditions(
            () => read.Actor.ShouldBe(regulatorPrincipal.Id), () => read.Target.ShouldBe(granted.Id), () => read.Detail!.ShouldContain($"grant={grant.Id}"));
        audit.Items.ShouldContain(e => e.Action == "vault.grant.create" && e.Target == grant.Id);
    }

    [Fact]
    public async Task ProviderGrant_NeedsALegalBasis_AndTheAccountSeesIt()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var record = await tenant.Client.RecordAsync(vault.Id, "mail/0001.eml", "Subject: hello"u8.ToArray());
        var regulatorPrincipal = await VaultGrantApi.RegulatorAsync(app);
        var request = new CreateVaultGrantRequest(vault.Id, regulatorPrincipal.Id, DateTimeOffset.UtcNow.AddDays(30), RecordIds: [record.Id]);

        await (await app.Admin().PostAsJsonAsync("/api/v1/vault-grants", request, WelkinJson.Client, Ct)).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        var grant = await VaultGrantApi.GrantAsync(app.Admin(), request with { LegalBasis = "Court order 2026-CV-118, District Court" });
        grant.ShouldSatisfyAllConditions(() => grant.ByProvider.ShouldBeTrue(), () => grant.RecordIds.ShouldBe([record.Id]));

        var seen = (await (await tenant.Client.GetAsync("/api/v1/vault-grants", Ct)).ReadAsync<Page<VaultGrantView>>()).Items.ShouldHaveSingleItem();
        seen.LegalBasis.ShouldBe("Court order 2026-CV-118, District Court");
        var audit = await (await tenant.Client.GetAsync("/api/v1/audit?limit=1000", Ct)).ReadAsync<Page<AuditEntryView>>();
        audit.Items.ShouldContain(e => e.Action == "vault.grant.create" && e.Target == grant.Id && e.Detail!.Contains("Court order 2026-CV-118"));

        var regulator = await VaultGrantApi.AsAsync(app, regulatorPrincipal);
        var link = (await VaultGrantApi.LinksAsync(regulator, grant.Id)).Links.ShouldHaveSingleItem();
        (await app.Anonymous().GetByteArrayAsync(link.Url, Ct)).ShouldBe("Subject: hello"u8.ToArray());
    }

    [Fact]
    public async Task Links_AlteredExpiredOrOfARevokedGrant_AreRefused()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var record = await tenant.Client.RecordAsync(vault.Id, "case/a.txt", "a"u8.ToArray());
        var regulatorPrincipal = await VaultGrantApi.RegulatorAsync(app);
        var regulator = await VaultGrantApi.AsAsync(app, regulatorPrincipal);
        var grant = await VaultGrantApi.GrantAsync(tenant.Client, new CreateVaultGrantRequest(vault.Id, regulatorPrincipal.Id, DateTimeOffset.UtcNow.AddDays(1), RecordIds: [record.Id]));
        var url = (await VaultGrantApi.LinksAsync(regulator, grant.Id)).Links.ShouldHaveSingleItem().Url;
        var anonymous = app.Anonymous();

        var signature = url[(url.IndexOf("signature=", StringComparison.Ordinal) + 10)..];
        var tampered = url.Replace(signature, (signature[0] == 'A' ? "B" : "A") + signature[1..], StringComparison.Ordinal);
        await (await anonymous.GetAsync(tampered, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var expires = url.Split("expires=")[1].Split('&')[0];
        await (await anonymous.GetAsync(url.Replace($"expires={expires}", $"expires={long.Parse(expires) + 3600}", StringComparison.Ordinal), Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await anonymous.GetAsync(url[..url.IndexOf('?')], Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        var shortLived = (await VaultGrantApi.LinksAsync(regulator, grant.Id, new CreateVaultGrantLinksRequest(LifetimeSeconds: 1))).Links.ShouldHaveSingleItem().Url;
        await Task.Delay(TimeSpan.FromSeconds(2.5), Ct);
        await (await anonymous.GetAsync(shortLived, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        (await anonymous.GetAsync(url, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var revoked = await (await tenant.Client.DeleteAsync($"/api/v1/vault-grants/{grant.Id}", Ct)).ReadAsync<VaultGrantView>();
        revoked.State.ShouldBe(VaultGrantState.Revoked);
        await (await anonymous.GetAsync(url, Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await regulator.PostAsJsonAsync($"/api/v1/vault-grants/{grant.Id}/links", new CreateVaultGrantLinksRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Regulator_ReachesNothingButItsGrants()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var record = await tenant.Client.RecordAsync(vault.Id, "case/a.txt", "a"u8.ToArray());
        var regulatorPrincipal = await VaultGrantApi.RegulatorAsync(app);
        var regulator = await VaultGrantApi.AsAsync(app, regulatorPrincipal);
        var grant = await VaultGrantApi.GrantAsync(tenant.Client, new CreateVaultGrantRequest(vault.Id, regulatorPrincipal.Id, DateTimeOffset.UtcNow.AddDays(1), RecordIds: [record.Id]));

        string[] elsewhere =
        [
            "/api/v1/vaults", $"/api/v1/vaults/{vault.Id}", $"/api/v1/vaults/{vault.Id}/records", $"/api/v1/vaults/{vault.Id}/records/{record.Id}",
            $"/api/v1/vaults/{vault.Id}/records/{record.Id}/content", $"/api/v1/vaults/{vault.Id}/certificates", $"/api/v1/accounts/{tenant.AccountId}",
            "/api/v1/accounts", "/api/v1/principals", "/api/v1/audit", "/api/v1/contracts", "/api/v1/machines", "/api/v1/volumes", "/api/v1/usage",
        ];
        foreach (var path in elsewhere)
        {
            using var response = await regulator.GetAsync(path, Ct);
            response.StatusCode.ShouldBeOneOf([HttpStatusCode.Forbidden, HttpStatusCode.NotFound], path);
        }
        // Nor does it give grants, and nobody but the regulator makes a grant's links.
        await (await regulator.PostAsJsonAsync("/api/v1/vault-grants", new CreateVaultGrantRequest(vault.Id, regulatorPrincipal.Id, DateTimeOffset.UtcNow.AddDays(1)), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await tenant.Client.PostAsJsonAsync($"/api/v1/vault-grants/{grant.Id}/links", new CreateVaultGrantLinksRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var otherRegulator = await VaultGrantApi.AsAsync(app, await VaultGrantApi.RegulatorAsync(app));
        await (await otherRegulator.PostAsJsonAsync($"/api/v1/vault-grants/{grant.Id}/links", new CreateVaultGrantLinksRequest(), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.NotFound, "not-found");
        (await (await otherRegulator.GetAsync("/api/v1/vault-grants", Ct)).ReadAsync<Page<VaultGrantView>>()).Items.ShouldBeEmpty();
        // A regulator is a provider-side role: never given inside an account.
        await (await tenant.Client.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("inside-reg", [Role.Regulator]), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
    }
}
