using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Vault;

/// <summary>A vault's default retention and the retention a write takes from it, on PostgreSQL (the vault's SQL runs on both databases).</summary>
public sealed class PostgresVaultLockTests(PostgresWelkinApp app) : IClassFixture<PostgresWelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DefaultRetention_IsKeptAndAppliedToAWrite_OnPostgres()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);

        var set = await (await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/default-retention",
            new DefaultRetentionRequest(RetentionMode.Governance, Years: 2), WelkinJson.Client, Ct)).ReadAsync<DefaultRetentionView>();
        var read = await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/default-retention", Ct)).ReadAsync<DefaultRetentionView>();
        var record = await tenant.Client.RecordAsync(vault.Id, "minutes.txt", [1, 2, 3]);
        var current = await (await tenant.Client.GetAsync($"/api/v1/vaults/{vault.Id}/default-retention", Ct)).ReadAsync<DefaultRetentionView>();
        var removed = await (await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/default-retention",
            new DefaultRetentionRequest(Version: current.Version), WelkinJson.Client, Ct)).ReadAsync<DefaultRetentionView>();
        var stale = await tenant.Client.PutAsJsonAsync($"/api/v1/vaults/{vault.Id}/default-retention",
            new DefaultRetentionRequest(RetentionMode.Compliance, Days: 1, Version: current.Version), WelkinJson.Client, Ct);
        var plain = await tenant.Client.RecordAsync(vault.Id, "notes.txt", [4, 5]);

        read.ShouldBe(set);
        read.Years.ShouldBe(2);
        record.Mode.ShouldBe(RetentionMode.Governance);
        record.RetainUntil!.Value.ShouldBe(record.Created.AddYears(2));
        removed.Mode.ShouldBeNull();
        stale.StatusCode.ShouldBe(HttpStatusCode.PreconditionFailed);
        plain.Mode.ShouldBeNull();
        plain.RetainUntil.ShouldBeNull();
    }
}
