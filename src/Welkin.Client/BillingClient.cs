using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>Contract Billing: invoices per account and period (<c>/api/v1/accounts/{id}/invoices</c>, <c>/api/v1/invoices</c>), contracts' price plan versions and accounts' billing addresses.</summary>
public sealed class BillingClient
{
    private readonly ApiConnection _api;

    internal BillingClient(ApiConnection api) => _api = api;

    /// <summary>Issues the invoice of an ended billing period ("2026-11"); a second issue for the period fails with invoice-exists.</summary>
    public Task<InvoiceView> IssueAsync(string accountId, string period, CancellationToken ct = default) =>
        _api.SendJsonAsync<InvoiceView>(HttpMethod.Post, _api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/invoices"), new IssueInvoiceRequest(period), ct);

    /// <summary>What the invoice of a period (default: the current one) would hold now; not stored.</summary>
    public Task<InvoiceView> PreviewAsync(string accountId, string? period = null, CancellationToken ct = default) =>
        _api.GetAsync<InvoiceView>(_api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/invoices/preview", ("period", period)), ct);

    /// <summary>A page of the account's issued invoices, oldest first.</summary>
    public Task<Page<InvoiceSummaryView>> ListAsync(string accountId, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<InvoiceSummaryView>>(_api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/invoices", ("after", after), ("limit", limit)), ct);

    /// <summary>One issued invoice with its lines, totals and the price plan versions it used.</summary>
    public Task<InvoiceView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<InvoiceView>(_api.Resolve("api/v1/invoices/" + ApiConnection.Segment(id)), ct);

    /// <summary>The printable HTML page of an issued invoice.</summary>
    public async Task<string> HtmlAsync(string id, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _api.Resolve($"api/v1/invoices/{ApiConnection.Segment(id)}/html"));
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    /// <summary>The PDF document (A4) of an issued invoice.</summary>
    public async Task<byte[]> PdfAsync(string id, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _api.Resolve($"api/v1/invoices/{ApiConnection.Segment(id)}/pdf"));
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    /// <summary>The account's billing address, the bill-to address of its invoices.</summary>
    public Task<BillingAddressView> BillingAddressAsync(string accountId, CancellationToken ct = default) =>
        _api.GetAsync<BillingAddressView>(_api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/billing-address"), ct);

    /// <summary>Sets (or, with a null address, removes) the account's billing address; issued invoices keep theirs.</summary>
    public Task<BillingAddressView> SetBillingAddressAsync(string accountId, SetBillingAddressRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<BillingAddressView>(HttpMethod.Put, _api.Resolve($"api/v1/accounts/{ApiConnection.Segment(accountId)}/billing-address"), request, ct);

    /// <summary>Every price plan version of every line of a contract, version 1 (as contracted) first.</summary>
    public Task<IReadOnlyList<PricePlanVersionView>> PricePlansAsync(string contractId, CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<PricePlanVersionView>>(_api.Resolve($"api/v1/contracts/{ApiConnection.Segment(contractId)}/price-plans"), ct);

    /// <summary>Adds a price plan version to a contract line, effective from a future instant or the start of a period not yet invoiced.</summary>
    public Task<PricePlanVersionView> AddPricePlanAsync(string contractId, AddPricePlanVersionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<PricePlanVersionView>(HttpMethod.Post, _api.Resolve($"api/v1/contracts/{ApiConnection.Segment(contractId)}/price-plans"), request, ct);
}
