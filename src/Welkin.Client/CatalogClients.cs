using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>Service templates (<c>/api/v1/templates</c>): drafts, versions, publishing and retiring.</summary>
public sealed class TemplatesClient
{
    private readonly ApiConnection _api;

    internal TemplatesClient(ApiConnection api) => _api = api;

    /// <summary>A page of templates (the latest version of each).</summary>
    /// <param name="state">Only templates in this state.</param>
    /// <param name="namePrefix">Only templates whose name starts with this.</param>
    /// <param name="after">The previous page's <see cref="Page{T}.Next"/> cursor.</param>
    /// <param name="limit">Page size; null for the server's default.</param>
    /// <param name="ct">Cancels the request.</param>
    public Task<Page<TemplateView>> ListAsync(TemplateState? state = null, string? namePrefix = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<TemplateView>>(_api.Resolve("api/v1/templates", ("state", state), ("namePrefix", namePrefix), ("after", after), ("limit", limit)), ct);

    /// <summary>Creates a template; its version 1 is a draft.</summary>
    public Task<TemplateView> CreateAsync(TemplateSpec spec, CancellationToken ct = default) =>
        _api.SendJsonAsync<TemplateView>(HttpMethod.Post, _api.Resolve("api/v1/templates"), spec, ct);

    /// <summary>The latest version of a template.</summary>
    public Task<TemplateView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<TemplateView>(_api.Resolve(Path(id)), ct);

    /// <summary>Replaces the spec of the template's draft version.</summary>
    public Task<TemplateView> UpdateAsync(string id, UpdateTemplateRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<TemplateView>(HttpMethod.Put, _api.Resolve(Path(id)), request, ct);

    /// <summary>Every version of a template, oldest first.</summary>
    public async Task<IReadOnlyList<TemplateView>> ListVersionsAsync(string id, CancellationToken ct = default)
    {
        // Tolerant reader: the server answers a page; a bare array is accepted too.
        var body = await _api.GetAsync<JsonElement>(_api.Resolve(Path(id) + "/versions"), ct);
        var items = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("items", out var page) ? page : body;
        try
        {
            return items.Deserialize<IReadOnlyList<TemplateView>>(WelkinJson.Client)
                ?? throw new WelkinProtocolException("The template versions answer is empty.");
        }
        catch (JsonException e)
        {
            throw new WelkinProtocolException($"The template versions answer cannot be read ({WelkinJson.Describe(e)}).", e);
        }
    }

    /// <summary>One version of a template.</summary>
    public Task<TemplateView> GetVersionAsync(string id, int templateVersion, CancellationToken ct = default) =>
        _api.GetAsync<TemplateView>(_api.Resolve($"{Path(id)}/versions/{templateVersion}"), ct);

    /// <summary>Starts the next version as a draft, from the given spec or a copy of the latest.</summary>
    public Task<TemplateView> NewVersionAsync(string id, NewTemplateVersionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<TemplateView>(HttpMethod.Post, _api.Resolve(Path(id) + "/versions"), request, ct);

    /// <summary>Publishes a version (the latest when <see cref="TemplateTransitionRequest.TemplateVersion"/> is null).</summary>
    public Task<TemplateView> PublishAsync(string id, TemplateTransitionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<TemplateView>(HttpMethod.Post, _api.Resolve(Path(id) + "/publish"), request, ct);

    /// <summary>Retires a version: no new offerings may use it.</summary>
    public Task<TemplateView> RetireAsync(string id, TemplateTransitionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<TemplateView>(HttpMethod.Post, _api.Resolve(Path(id) + "/retire"), request, ct);

    private static string Path(string id) => "api/v1/templates/" + ApiConnection.Segment(id);
}

/// <summary>Offerings as the provider manages them (<c>/api/v1/offerings</c>).</summary>
public sealed class OfferingsClient
{
    private readonly ApiConnection _api;

    internal OfferingsClient(ApiConnection api) => _api = api;

    /// <summary>A page of offerings in every state.</summary>
    /// <param name="state">Only offerings in this state.</param>
    /// <param name="namePrefix">Only offerings whose name starts with this.</param>
    /// <param name="after">The previous page's <see cref="Page{T}.Next"/> cursor.</param>
    /// <param name="limit">Page size; null for the server's default.</param>
    /// <param name="ct">Cancels the request.</param>
    public Task<Page<OfferingView>> ListAsync(OfferingState? state = null, string? namePrefix = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<OfferingView>>(_api.Resolve("api/v1/offerings", ("state", state), ("namePrefix", namePrefix), ("after", after), ("limit", limit)), ct);

    /// <summary>Creates an offering as a draft.</summary>
    public Task<OfferingView> CreateAsync(OfferingSpec spec, CancellationToken ct = default) =>
        _api.SendJsonAsync<OfferingView>(HttpMethod.Post, _api.Resolve("api/v1/offerings"), spec, ct);

    /// <summary>One offering.</summary>
    public Task<OfferingView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<OfferingView>(_api.Resolve(Path(id)), ct);

    /// <summary>Replaces the spec of a draft offering.</summary>
    public Task<OfferingView> UpdateAsync(string id, UpdateOfferingRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<OfferingView>(HttpMethod.Put, _api.Resolve(Path(id)), request, ct);

    /// <summary>Publishes an offering to the public catalog.</summary>
    public Task<OfferingView> PublishAsync(string id, OfferingTransitionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<OfferingView>(HttpMethod.Post, _api.Resolve(Path(id) + "/publish"), request, ct);

    /// <summary>Withdraws an offering from the catalog; existing contracts are unaffected.</summary>
    public Task<OfferingView> WithdrawAsync(string id, OfferingTransitionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<OfferingView>(HttpMethod.Post, _api.Resolve(Path(id) + "/withdraw"), request, ct);

    private static string Path(string id) => "api/v1/offerings/" + ApiConnection.Segment(id);
}

/// <summary>The public catalog (<c>/api/v1/catalog/offerings</c>): published offerings, readable without a token.</summary>
public sealed class CatalogClient
{
    private readonly ApiConnection _api;

    internal CatalogClient(ApiConnection api) => _api = api;

    /// <summary>A page of published offerings, optionally only those whose name starts with <paramref name="namePrefix"/>.</summary>
    public Task<Page<OfferingView>> ListOfferingsAsync(string? namePrefix = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<OfferingView>>(_api.Resolve("api/v1/catalog/offerings", ("namePrefix", namePrefix), ("after", after), ("limit", limit)), ct);

    /// <summary>One published offering.</summary>
    public Task<OfferingView> GetOfferingAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<OfferingView>(_api.Resolve("api/v1/catalog/offerings/" + ApiConnection.Segment(id)), ct);

    /// <summary>
    /// Runs a SPARQL 1.1 SELECT or ASK query over the catalog description (<c>POST /api/v1/catalog/sparql</c>);
    /// the SPARQL 1.1 Query Results JSON document.
    /// </summary>
    public async Task<JsonElement> QueryAsync(string sparql, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _api.Resolve("api/v1/catalog/sparql"))
        {
            Content = new StringContent(sparql, Encoding.UTF8, "application/sparql-query"),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/sparql-results+json"));
        return await _api.ReadAsync<JsonElement>(request, ct);
    }
}
