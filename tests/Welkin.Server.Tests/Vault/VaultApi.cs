using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Configuration;
using Welkin.Testing;

namespace Welkin.Server.Tests.Vault;

/// <summary>A cloud whose records are small, so the tests can pass the maximum cheaply.</summary>
public sealed class VaultApp : WelkinApp
{
    public const long MaxRecordBytes = 256 * 1024;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Vault:MaxRecordBytes"] = MaxRecordBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Vault:ChunkBytes"] = "4096",
    };
}

/// <summary>Vaults, classes and records through the HTTP API, as a consumer calls them.</summary>
public static class VaultApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh tenant (storage line 1 of 100 GiB increments) with a vault of 100 GiB.</summary>
    public static async Task<(ConfigurationApi.Tenant Tenant, VaultView Vault)> VaultAsync(WelkinApp app)
    {
        var tenant = await ConfigurationApi.TenantAsync(app, machines: 1, increments: 2);
        var vault = await (await tenant.Client.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(tenant.Contract.Id, 100, "records"), WelkinJson.Client, Ct))
            .ReadAsync<VaultView>(HttpStatusCode.Created);
        return (tenant, vault);
    }

    public static async Task<RetentionClassView> ClassAsync(this HttpClient client, string vaultId, string name, string period, RetentionMode mode, bool autoDelete = false) =>
        await (await client.PostAsJsonAsync($"/api/v1/vaults/{vaultId}/classes", new CreateRetentionClassRequest(name, period, mode, autoDelete), WelkinJson.Client, Ct))
            .ReadAsync<RetentionClassView>(HttpStatusCode.Created);

    public static Task<HttpResponseMessage> PutRecordAsync(this HttpClient client, string vaultId, string query, HttpContent content, string mediaType = "application/octet-stream")
    {
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return client.PostAsync($"/api/v1/vaults/{vaultId}/records?{query}", content, Ct);
    }

    public static async Task<VaultRecordView> RecordAsync(this HttpClient client, string vaultId, string key, byte[] content, string? className = null) =>
        await (await client.PutRecordAsync(vaultId, $"key={Uri.EscapeDataString(key)}" + (className is null ? "" : $"&class={className}"), new ByteArrayContent(content)))
            .ReadAsync<VaultRecordView>(HttpStatusCode.Created);
}
