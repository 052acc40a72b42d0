using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Contracts;

/// <summary>A tenant with limits and published offerings to contract for, and the contract calls the tests repeat.</summary>
public static class ContractsApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed record Tenant(SignUpResponse SignUp, HttpClient Client, OfferingView Compute, OfferingView Storage)
    {
        public string AccountId => SignUp.Account.Id;
    }

    /// <summary>Published compute and storage offerings (fresh ones, so tests never share them).</summary>
    public static async Task<(OfferingView Compute, OfferingView Storage)> PublishedOfferingsAsync(WelkinApp app, int minimumMonths = 1)
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("ctr");
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(prefix + "template"));
        var computeSpec = CatalogApi.Compute(prefix + "small", template.Id) with { Terms = new OfferingTerms(minimumMonths, 50m) };
        var compute = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(computeSpec)).Id);
        var storage = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Storage(prefix + "disk"))).Id);
        return (compute, storage);
    }

    /// <summary>A fresh account with the given limits and two published offerings.</summary>
    public static async Task<Tenant> TenantAsync(WelkinApp app, long computeUnits = 10, long storageUnits = 100, string prefix = "ctr")
    {
        var (signUp, client) = await app.SignUpAsync(prefix);
        await SetLimitsAsync(app, signUp.Account.Id, computeUnits, storageUnits);
        var (compute, storage) = await PublishedOfferingsAsync(app);
        return new Tenant(signUp, client, compute, storage);
    }

    public static async Task SetLimitsAsync(WelkinApp app, string accountId, long computeUnits, long storageUnits) =>
        await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{accountId}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = computeUnits, ["storage-unit"] = storageUnits }), WelkinJson.Client, Ct))
            .ReadAsync<AccountView>();

    /// <summary>
    /// Limits below what the account's contracts hold, as an account limited before that was
    /// refused may still have them: the API no longer sets such limits, so the test writes them.
    /// </summary>
    public static async Task ForceLimitsAsync(WelkinApp app, string accountId, long computeUnits, long storageUnits)
    {
        var limits = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, long> { ["compute-unit"] = computeUnits, ["storage-unit"] = storageUnits });
        await app.Services.GetRequiredService<IDatabase>().WriteAsync<bool>(async tx =>
            await tx.ExecuteAsync("UPDATE accounts SET limits = @Limits WHERE id = @Id", new { Limits = limits, Id = accountId }) == 1, Ct);
    }

    public static Task<HttpResponseMessage> RequestAsync(this HttpClient client, ContractRequest request) =>
        client.PostAsJsonAsync("/api/v1/contracts", request, WelkinJson.Client, Ct);

    public static async Task<ContractView> ProposeAsync(this HttpClient client, params (string OfferingId, int Quantity)[] lines) =>
        await (await client.RequestAsync(new ContractRequest(lines.Select(l => new ContractItemRequest(l.OfferingId, l.Quantity)).ToList())))
            .ReadAsync<ContractView>(HttpStatusCode.Created);

    public static Task<HttpResponseMessage> TransitionAsync(this HttpClient client, string id, string action, long? version = null) =>
        client.PostAsJsonAsync($"/api/v1/contracts/{id}/{action}", new ContractTransitionRequest(version), WelkinJson.Client, Ct);

    public static async Task<ContractView> AcceptAsync(this HttpClient client, string id) =>
        await (await client.TransitionAsync(id, "accept")).ReadAsync<ContractView>();

    /// <summary>An active contract for the tenant's compute offering.</summary>
    public static async Task<ContractView> ActiveAsync(this Tenant tenant, int quantity = 2) =>
        await tenant.Client.AcceptAsync((await tenant.Client.ProposeAsync((tenant.Compute.Id, quantity))).Id);

    public static async Task<ContractView> GetContractAsync(this HttpClient client, string id) =>
        await (await client.GetAsync($"/api/v1/contracts/{id}", Ct)).ReadAsync<ContractView>();
}
