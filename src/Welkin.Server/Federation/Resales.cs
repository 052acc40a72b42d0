using System.Globalization;
using System.Net.Http.Headers;
using System.Xml;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Catalog.Description;
using Welkin.Core.Common;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Intercloud.Rdf;

namespace Welkin.Server.Federation;

/// <summary>
/// A broker's resales (docs/federation.md, "A broker cloud"): a peer's published offering, under an
/// agreement in force this cloud consumes that covers it, becomes an offering of this cloud's own. The
/// peer's offering is read through its ordinary API and its virtual systems through its SPARQL endpoint
/// (the catalog description), both with the agreement's credential; this cloud then publishes a
/// template with the same virtual systems (no image: the peer's pool runs its own) and an offering
/// with the peer's SLA and terms, its prices plus the margin, constrained to where the agreement lets
/// machines run, and bursting to that peer only (the cloud's own bursting policy must allow it too). Its consumers contract, provision and are invoiced
/// here at those prices; the machines run in the peer's pool under the agreement's contract.
/// </summary>
public sealed class Resales(
    AgreementStore agreements, FederationAgreements federation, ResaleStore store, TemplateService templates, OfferingService offerings)
{
    public const decimal MaxMarginPercent = 1000m;
    private const int MaxResultBytes = 1 << 20;

    public async Task<Result<ResaleView>> CreateAsync(Caller caller, ResaleRequest request, CancellationToken ct)
    {
        if (FederationAgreements.RequireAdmin(caller) is { } denied)
        {
            return denied;
        }
        if (Validate(request) is { } invalid)
        {
            return invalid;
        }
        var row = await agreements.GetAsync(request.AgreementId, ct);
        if (row is null)
        {
            return Error.NotFound("Agreement", request.AgreementId);
        }
        if (row.ParsedSide != AgreementSide.Consumer || !row.InForce)
        {
            return Error.InvalidState($"Agreement '{row.Id}' is {row.State} on the {row.Side} side; only an agreement in force this cloud consumes can be resold.");
        }
        if (!row.ParsedTerms.Entitlement.Offerings.Any(o => o.OfferingId == request.OfferingId))
        {
            return Error.Validation("offeringId", $"agreement '{row.Id}' does not cover offering '{request.OfferingId}'; amend it to include the offering first");
        }
        if (await store.FindAsync(row.Id, request.OfferingId, ct) is { } earlier)
        {
            return await PublishedAsync(caller, earlier, ct);
        }
        var peer = await federation.CallPeerAsync(row, "show the offering and its virtual systems", async (client, http) =>
            (Offering: await client.Catalog.GetOfferingAsync(request.OfferingId, ct), Systems: await VirtualSystemsAsync(http, client.Endpoint, row.Credential!, request.OfferingId, ct)), ct);
        if (!peer.IsSuccess)
        {
            return peer.Error!;
        }
        var (offering, systems) = peer.Value;
        if (offering.Spec.Kind != OfferingKind.Compute || systems is not { Count: > 0 })
        {
            return Error.Validation("offeringId", $"offering '{request.OfferingId}' of peer '{row.PeerName}' is not a compute offering with virtual systems; only those can be resold");
        }
        var name = request.Name ?? Clip($"{row.PeerName} {offering.Spec.Name}");
        var template = await templates.CreateAsync(caller, new TemplateSpec(name, systems, $"Resold from {row.PeerName}: {offering.Spec.Name}"), ct);
        if (!template.IsSuccess)
        {
            return template.Error!;
        }
        var published = await templates.PublishAsync(caller, template.Value.Id, new TemplateTransitionRequest(), ct);
        if (!published.IsSuccess)
        {
            return published.Error!;
        }
        var spec = Resold(offering.Spec, name, template.Value.Id, request.MarginPercent, row.ParsedTerms.Policy.Jurisdictions, row.PeerName);
        var created = await offerings.CreateAsync(caller, spec, ct);
        if (!created.IsSuccess)
        {
            return created.Error!;
        }
        // Recorded before it is published, so a retry after a crash finds the resale and only publishes it.
        var resale = await store.InsertAsync(caller, row.Id, row.PeerName, request.OfferingId, created.Value.Id, template.Value.Id, request.MarginPercent, ct);
        return resale.IsSuccess ? await PublishedAsync(caller, resale.Value, ct) : resale.Error!;
    }

    public async Task<Result<IReadOnlyList<ResaleView>>> ListAsync(Caller caller, string? agreementId, CancellationToken ct) =>
        FederationAgreements.RequireAdmin(caller) is { } denied ? denied : (await store.ListAsync(agreementId, ct)).Select(ResaleStore.ToView).ToList();

    public async Task<Result<ResaleView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (FederationAgreements.RequireAdmin(caller) is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Resale))
        {
            return Error.InvalidId(id, "resale");
        }
        return await store.GetAsync(id, ct) is { } row ? ResaleStore.ToView(row) : Error.NotFound("Resale", id);
    }

    /// <summary>The peer's offering spec as this cloud sells it: its name, template, prices plus the margin, where the agreement allows, bursting to the peer.</summary>
    internal static OfferingSpec Resold(OfferingSpec peer, string name, string templateId, decimal marginPercent, IReadOnlyList<string> jurisdictions, string peerName)
    {
        var factor = 1m + (marginPercent / 100m);
        var rates = peer.PricePlan.Rates.Select(r => r with
        {
            Price = Mark(r.Price, factor),
            MinimumCharge = r.MinimumCharge is { } m ? Mark(m, factor) : null,
            Tiers = r.Tiers?.Select(t => t with { Price = Mark(t.Price, factor) }).ToList(),
        }).ToList();
        var allowed = peer.Constraints?.Jurisdictions is { } own ? own.Intersect(jurisdictions, StringComparer.Ordinal).ToList() : jurisdictions.ToList();
        return peer with
        {
            Name = name,
            Description = $"Resold from {peerName}" + (peer.Description is { } d ? ": " + d : ""),
            PricePlan = peer.PricePlan with { Rates = rates },
            TemplateId = templateId,
            TemplateVersion = 1,
            Choices = null,
            Constraints = new PlacementConstraints(allowed, peer.Constraints?.Regions),
            Burst = new BurstPolicy(true, [peerName]),
        };
    }

    private static decimal Mark(decimal price, decimal factor) => Math.Round(price * factor, 4, MidpointRounding.ToEven);

    private async Task<Result<ResaleView>> PublishedAsync(Caller caller, Core.Federation.ResaleRow resale, CancellationToken ct)
    {
        var offering = await offerings.GetAsync(caller, resale.OfferingId, ct);
        if (offering.IsSuccess && offering.Value.State == OfferingState.Draft)
        {
            var published = await offerings.PublishAsync(caller, resale.OfferingId, new OfferingTransitionRequest(), ct);
            if (!published.IsSuccess)
            {
                return published.Error!;
            }
        }
        return ResaleStore.ToView(resale);
    }

    private static Error? Validate(ResaleRequest request)
    {
        if (!Ids.IsValid(request.AgreementId, Ids.Agreement))
        {
            return Error.InvalidId(request.AgreementId, "agreement");
        }
        if (!Ids.IsValid(request.OfferingId, Ids.Offering))
        {
            return Error.InvalidId(request.OfferingId, "offering");
        }
        if (request.MarginPercent is < 0 or > MaxMarginPercent)
        {
            return Error.Validation("marginPercent", $"marginPercent must be between 0 and {MaxMarginPercent}");
        }
        return request.Name is { } name && (string.IsNullOrWhiteSpace(name) || name.Length > CatalogRules.MaxNameLength)
            ? Error.Validation("name", $"name must be 1-{CatalogRules.MaxNameLength} characters")
            : null;
    }

    private static string Clip(string name) => name.Length <= CatalogRules.MaxNameLength ? name : name[..CatalogRules.MaxNameLength];

    /// <summary>The offering's virtual systems with their hardware and operating-system choices, from the peer's catalog description.</summary>
    private static async Task<IReadOnlyList<VirtualSystemSpec>> VirtualSystemsAsync(HttpClient http, Uri api, string credential, string offeringId, CancellationToken ct)
    {
        // The offering id was checked against the id syntax, so it is safe inside a literal; the constant comes first (docs/federation.md on Rasqal).
        var head = $"PREFIX wk: <{Vocabulary.Welkin}> PREFIX dcterms: <{Vocabulary.Dcterms}> ";
        var where = $"?o dcterms:identifier \"{offeringId}\" . ?o wk:virtualSystem ?vs . ?vs dcterms:title ?name . ";
        var hardware = await SelectAsync(http, api, credential, head + "SELECT ?name ?p ?v WHERE { " + where + "?vs ?p ?v . FILTER(isLiteral(?v)) }", ct);
        var systems = await SelectAsync(http, api, credential, head + "SELECT ?name ?p ?os WHERE { " + where + "?vs ?p ?node . ?node dcterms:identifier ?os . }", ct);
        var result = new List<VirtualSystemSpec>();
        foreach (var group in hardware.GroupBy(r => r["name"].Value, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var values = group.ToLookup(r => r["p"].Value[Vocabulary.Welkin.Length..], r => r["v"].Value, StringComparer.Ordinal);
            var os = systems.Where(r => r["name"].Value == group.Key).ToLookup(r => r["p"].Value, r => r["os"].Value, StringComparer.Ordinal);
            var allowed = os[Vocabulary.Welkin + "operatingSystem"].Order(StringComparer.Ordinal).ToList();
            var software = allowed.Count == 0 ? null
                : new SoftwareChoices(new Choice<string>(allowed, os[Vocabulary.Welkin + "defaultOperatingSystem"].FirstOrDefault() ?? allowed[0]));
            result.Add(new VirtualSystemSpec(group.Key, new HardwareChoices(
                Choice(values, "vcpus", int.Parse), Choice(values, "memoryMiB", long.Parse), Choice(values, "diskGiB", long.Parse)), software));
        }
        return result;
    }

    private static Choice<T> Choice<T>(ILookup<string, string> values, string property, Func<string, IFormatProvider, T> parse)
    {
        var allowed = values[property].Select(v => parse(v, CultureInfo.InvariantCulture)).Distinct().Order().ToList();
        var fallback = allowed.Count > 0 ? allowed[0] : throw new Welkin.Client.WelkinProtocolException($"the peer's description gives no {property} choice");
        var chosen = values["default" + char.ToUpperInvariant(property[0]) + property[1..]].Select(v => parse(v, CultureInfo.InvariantCulture)).FirstOrDefault();
        return new Choice<T>(allowed, chosen is null || !allowed.Contains(chosen) ? fallback : chosen);
    }

    private static async Task<IReadOnlyList<IReadOnlyDictionary<string, Welkin.Intercloud.Rdf.RdfTerm>>> SelectAsync(HttpClient http, Uri api, string credential, string query, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(api, "api/v1/catalog/sparql"))
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("query", query)]),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(SparqlResults.XmlMediaType));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"the peer's SPARQL endpoint answered {(int)response.StatusCode}");
        }
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersInDocument = MaxResultBytes, Async = true };
        XDocument document;
        try
        {
            using var reader = XmlReader.Create(body, settings);
            document = await XDocument.LoadAsync(reader, LoadOptions.None, ct);
        }
        catch (XmlException exception)
        {
            throw new Welkin.Client.WelkinProtocolException("the peer's SPARQL results are not well-formed XML", exception);
        }
        var (results, problem) = SparqlResultsXml.Parse(document.Root);
        return results?.Rows ?? throw new Welkin.Client.WelkinProtocolException(problem ?? "the peer's SPARQL results could not be read");
    }
}
