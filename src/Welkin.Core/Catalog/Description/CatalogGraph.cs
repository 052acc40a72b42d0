using System.Text;
using Welkin.Contracts;

namespace Welkin.Core.Catalog.Description;

/// <summary>Who publishes a catalog: its API base URL (".../api/v1"), and when federated its name, federation URL and certificate.</summary>
public sealed record DescribedCloud(string ApiBase, string? Name = null, string? FederationUrl = null, string? CertificateFingerprint = null);

/// <summary>A place where the cloud has hosts: a jurisdiction (ISO 3166 country code as the pools label it) and a region.</summary>
public sealed record CatalogRegion(string Jurisdiction, string Region);

/// <summary>What a description is made from: the published offerings, the template versions they name, and where the cloud runs.</summary>
public sealed record CatalogSnapshot(
    DescribedCloud Cloud,
    IReadOnlyList<OfferingView> Offerings,
    IReadOnlyList<TemplateView> Templates,
    IReadOnlyList<CatalogRegion> Regions);

/// <summary>
/// Turns a public catalog into triples in Welkin's ontology (docs/ontology/welkin.ttl). Every node
/// is an IRI under the cloud's API base (fragments for the parts of an offering), so the
/// description has no blank nodes and is the same graph in every serialization.
/// </summary>
public static class CatalogGraph
{
    private const string Wk = Vocabulary.Welkin;

    public static IReadOnlyList<Triple> Build(CatalogSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var g = new Graph();
        var api = snapshot.Cloud.ApiBase.TrimEnd('/');
        var document = api + "/catalog/description";
        var cloud = Iri(document + "#cloud");
        var templates = snapshot.Templates.ToDictionary(t => (t.Id, t.TemplateVersion));
        var regions = snapshot.Regions.Distinct().OrderBy(r => r.Jurisdiction, StringComparer.Ordinal).ThenBy(r => r.Region, StringComparer.Ordinal).ToList();
        DescribeCloud(g, snapshot.Cloud, regions, cloud, document);
        foreach (var offering in snapshot.Offerings.OrderBy(o => o.Id, StringComparer.Ordinal))
        {
            var template = offering.Spec.TemplateId is { } id && offering.Spec.TemplateVersion is { } n ? templates.GetValueOrDefault((id, n)) : null;
            DescribeOffering(g, api, document, cloud, offering, template, regions);
        }
        return g.Triples;
    }

    /// <summary>An IRI with the characters Turtle's IRIREF forbids (spaces, controls, &lt;&gt;"{}|^`\) percent-encoded.</summary>
    public static RdfIri Iri(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.Any(IsForbiddenInIri))
        {
            return new RdfIri(value);
        }
        var b = new StringBuilder(value.Length + 16);
        foreach (var c in value)
        {
            if (IsForbiddenInIri(c))
            {
                b.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                b.Append(c);
            }
        }
        return new RdfIri(b.ToString());
    }

    internal static bool IsForbiddenInIri(char c) => c <= ' ' || c is '<' or '>' or '"' or '{' or '}' or '|' or '^' or '`' or '\\' or '\u007f';

    private static void DescribeCloud(Graph g, DescribedCloud identity, IReadOnlyList<CatalogRegion> regions, RdfIri cloud, string document)
    {
        g.Type(cloud, "Cloud");
        g.Add(cloud, Wk + "apiEndpoint", Iri(identity.ApiBase.TrimEnd('/')));
        g.Add(cloud, Wk + "supportsInterface", Iri(Wk + "WelkinRestApi"));
        g.Add(cloud, Wk + "supportsInterface", Iri(Wk + "Ovf"));
        g.Add(cloud, Wk + "descriptionDocument", Iri(document));
        if (identity.Name is { } name)
        {
            g.Add(cloud, Vocabulary.Dcterms + "title", RdfLiteral.Text(name));
            var provider = Iri(document + "#provider");
            g.Add(provider, Vocabulary.Type, Iri(Vocabulary.Org + "Organization"));
            g.Add(provider, Vocabulary.Skos + "prefLabel", RdfLiteral.Text(name));
            g.Add(cloud, Wk + "operatedBy", provider);
        }
        if (identity.FederationUrl is { } url)
        {
            g.Add(cloud, Wk + "federationEndpoint", Iri(url));
        }
        if (identity.CertificateFingerprint is { } fingerprint)
        {
            var certificate = Iri(document + "#certificate");
            g.Type(certificate, "Certificate");
            g.Add(certificate, Wk + "sha256Fingerprint", RdfLiteral.Text(fingerprint));
            g.Add(cloud, Wk + "certificate", certificate);
        }
        foreach (var place in regions)
        {
            var jurisdiction = JurisdictionIri(document, place.Jurisdiction);
            g.Type(jurisdiction, "Jurisdiction");
            g.Add(jurisdiction, Vocabulary.Dcterms + "identifier", RdfLiteral.Text(place.Jurisdiction));
            var region = RegionIri(document, place);
            g.Type(region, "Region");
            g.Add(region, Vocabulary.Dcterms + "identifier", RdfLiteral.Text(place.Region));
            g.Add(region, Wk + "jurisdiction", jurisdiction);
            g.Add(cloud, Wk + "region", region);
        }
    }

    private static void DescribeOffering(
        Graph g, string api, string document, RdfIri cloud, OfferingView offering, TemplateView? template, IReadOnlyList<CatalogRegion> regions)
    {
        var spec = offering.Spec;
        var node = Iri(api + "/catalog/offerings/" + Uri.EscapeDataString(offering.Id));
        g.Type(node, "Offering");
        g.Add(cloud, Wk + "offers", node);
        g.Add(node, Wk + "offeredBy", cloud);
        g.Add(node, Vocabulary.Dcterms + "identifier", RdfLiteral.Text(offering.Id));
        g.Add(node, Vocabulary.Dcterms + "title", RdfLiteral.Text(spec.Name));
        if (spec.Description is { } description)
        {
            g.Add(node, Vocabulary.Dcterms + "description", RdfLiteral.Text(description));
        }
        if (offering.Published is { } published)
        {
            g.Add(node, Vocabulary.Dcterms + "issued", RdfLiteral.XsdDateTime(published));
        }
        g.Add(node, Wk + "kind", RdfLiteral.Text(WireNames.Of(spec.Kind)));
        g.Add(node, Wk + "limitUnit", RdfLiteral.Text(spec.LimitUnit));
        g.Add(node, Wk + "minimumPeriodMonths", RdfLiteral.XsdInteger(spec.Terms.MinimumPeriodMonths));
        g.Add(node, Wk + "unprovisionedDiscountPercent", RdfLiteral.XsdDecimal(spec.Terms.UnprovisionedDiscountPercent));
        if (spec.Storage is { } storage)
        {
            g.Add(node, Wk + "storageIncrementGiB", RdfLiteral.XsdInteger(storage.IncrementGiB));
            g.Add(node, Wk + "storageMaxGiB", RdfLiteral.XsdInteger(storage.MaxGiB));
        }
        if (spec.Burst is { } burst)
        {
            g.Add(node, Wk + "mayBurst", RdfLiteral.XsdBoolean(burst.Enabled));
        }
        DescribePricePlan(g, node, spec.PricePlan);
        DescribeSla(g, node, spec.Sla);
        foreach (var place in regions.Where(r => Allows(spec.Constraints, r)))
        {
            g.Add(node, Wk + "availableIn", RegionIri(document, place));
        }
        if (template is not null)
        {
            DescribeTemplate(g, api, node, offering, template);
        }
    }

    // As placement reads constraints: a missing list allows anywhere, a list (even empty) only what it names, compared exactly.
    private static bool Allows(PlacementConstraints? constraints, CatalogRegion place) =>
        (constraints?.Jurisdictions is not { } js || js.Contains(place.Jurisdiction, StringComparer.Ordinal))
        && (constraints?.Regions is not { } rs || rs.Contains(place.Region, StringComparer.Ordinal));

    private static void DescribePricePlan(Graph g, RdfIri offering, PricePlan plan)
    {
        var node = Iri(offering.Value + "#price-plan");
        g.Type(node, "PricePlan");
        g.Add(offering, Wk + "pricePlan", node);
        g.Add(node, Vocabulary.Schema + "priceCurrency", RdfLiteral.Text(plan.Currency));
        g.Add(node, Wk + "billingPeriod", RdfLiteral.Text(plan.BillingPeriod));
        for (var i = 0; i < plan.Rates.Count; i++)
        {
            var rate = plan.Rates[i];
            var r = Iri($"{offering.Value}#rate-{i + 1}");
            g.Add(r, Vocabulary.Type, Iri(Vocabulary.Schema + "UnitPriceSpecification"));
            g.Add(node, Wk + "rate", r);
            g.Add(offering, Vocabulary.Schema + "priceSpecification", r);
            g.Add(r, Vocabulary.Schema + "price", RdfLiteral.XsdDecimal(rate.Price));
            g.Add(r, Vocabulary.Schema + "priceCurrency", RdfLiteral.Text(plan.Currency));
            g.Add(r, Vocabulary.Schema + "unitText", RdfLiteral.Text(rate.Unit));
            g.Add(r, Wk + "metric", RdfLiteral.Text(rate.Metric));
            g.Add(r, Wk + "pricingModel", RdfLiteral.Text(WireNames.Of(rate.Pricing ?? PricingModel.Flat)));
            if (rate.Description is { } description)
            {
                g.Add(r, Vocabulary.Dcterms + "description", RdfLiteral.Text(description));
            }
            if (rate.MinimumCharge is { } minimum)
            {
                g.Add(r, Wk + "minimumCharge", RdfLiteral.XsdDecimal(minimum));
            }
            var tiers = rate.Tiers ?? [];
            for (var j = 0; j < tiers.Count; j++)
            {
                var t = Iri($"{offering.Value}#rate-{i + 1}-tier-{j + 1}");
                g.Type(t, "PriceTier");
                g.Add(r, Wk + "tier", t);
                g.Add(t, Wk + "position", RdfLiteral.XsdInteger(j + 1));
                g.Add(t, Wk + "upTo", RdfLiteral.XsdDecimal(tiers[j].UpTo));
                g.Add(t, Vocabulary.Schema + "price", RdfLiteral.XsdDecimal(tiers[j].Price));
            }
        }
    }

    private static void DescribeSla(Graph g, RdfIri offering, SlaTerms sla)
    {
        var node = Iri(offering.Value + "#sla");
        g.Type(node, "ServiceLevelAgreement");
        g.Add(offering, Wk + "sla", node);
        g.Add(node, Wk + "availabilityTarget", RdfLiteral.XsdDecimal(sla.AvailabilityPercent));
        g.Add(node, Wk + "availabilityCreditPercent", RdfLiteral.XsdDecimal(sla.AvailabilityCreditPercent ?? SlaTerms.DefaultAvailabilityCreditPercent));
        if (sla.CpuUtilizationPercentMax is { } cpu)
        {
            g.Add(node, Wk + "cpuUtilizationMax", RdfLiteral.XsdDecimal(cpu));
            g.Add(node, Wk + "performanceCreditPercent", RdfLiteral.XsdDecimal(sla.PerformanceCreditPercent ?? SlaTerms.DefaultPerformanceCreditPercent));
        }
        if (sla.PageFaultsPerSecondMax is { } faults)
        {
            g.Add(node, Wk + "pageFaultsPerSecondMax", RdfLiteral.XsdInteger(faults));
            g.Add(node, Wk + "performanceCreditPercent", RdfLiteral.XsdDecimal(sla.PerformanceCreditPercent ?? SlaTerms.DefaultPerformanceCreditPercent));
        }
        if (sla.IncidentResponseMinutes is { } minutes)
        {
            g.Add(node, Wk + "incidentResponseMinutes", RdfLiteral.XsdInteger(minutes));
            g.Add(node, Wk + "responseCreditPercent", RdfLiteral.XsdDecimal(sla.ResponseCreditPercent ?? SlaTerms.DefaultResponseCreditPercent));
        }
    }

    private static void DescribeTemplate(Graph g, string api, RdfIri offering, OfferingView view, TemplateView template)
    {
        var node = Iri($"{api}/templates/{Uri.EscapeDataString(template.Id)}/versions/{template.TemplateVersion}");
        g.Type(node, "ServiceTemplate");
        g.Add(offering, Wk + "template", node);
        g.Add(node, Vocabulary.Dcterms + "identifier", RdfLiteral.Text(template.Id));
        g.Add(node, Vocabulary.Dcterms + "title", RdfLiteral.Text(template.Name));
        g.Add(node, Wk + "templateVersion", RdfLiteral.XsdInteger(template.TemplateVersion));
        if (template.Description is { } description)
        {
            g.Add(node, Vocabulary.Dcterms + "description", RdfLiteral.Text(description));
        }
        foreach (var system in template.VirtualSystems)
        {
            var restriction = view.Spec.Choices?.FirstOrDefault(c => c.VirtualSystem == system.Name);
            var vs = Iri($"{offering.Value}#vs-{Uri.EscapeDataString(system.Name)}");
            g.Type(vs, "VirtualSystem");
            g.Add(node, Wk + "virtualSystem", vs);
            g.Add(offering, Wk + "virtualSystem", vs);
            g.Add(vs, Vocabulary.Dcterms + "title", RdfLiteral.Text(system.Name));
            Choices(g, vs, "Vcpus", restriction?.Vcpus ?? system.Hardware.Vcpus, v => RdfLiteral.XsdInteger(v));
            Choices(g, vs, "MemoryMiB", restriction?.MemoryMiB ?? system.Hardware.MemoryMiB, RdfLiteral.XsdInteger);
            Choices(g, vs, "DiskGiB", restriction?.DiskGiB ?? system.Hardware.DiskGiB, RdfLiteral.XsdInteger);
            if ((restriction?.OperatingSystem ?? system.Software?.OperatingSystem) is { } os)
            {
                foreach (var name in os.Allowed)
                {
                    var osNode = Iri(Wk + "os-" + Uri.EscapeDataString(name));
                    g.Type(osNode, "OperatingSystem");
                    g.Add(osNode, Vocabulary.Dcterms + "identifier", RdfLiteral.Text(name));
                    g.Add(vs, Wk + "operatingSystem", osNode);
                }
                g.Add(vs, Wk + "defaultOperatingSystem", Iri(Wk + "os-" + Uri.EscapeDataString(os.Default)));
            }
            if (system.ImageId is { } image)
            {
                var imageNode = Iri($"{api}/images/{Uri.EscapeDataString(image)}");
                g.Type(imageNode, "Image");
                g.Add(imageNode, Vocabulary.Dcterms + "identifier", RdfLiteral.Text(image));
                g.Add(vs, Wk + "image", imageNode);
            }
        }
    }

    private static void Choices<T>(Graph g, RdfIri vs, string what, Choice<T> choice, Func<T, RdfLiteral> literal)
    {
        var property = char.ToLowerInvariant(what[0]) + what[1..];
        foreach (var value in choice.Allowed)
        {
            g.Add(vs, Wk + property, literal(value));
        }
        g.Add(vs, Wk + "default" + what, literal(choice.Default));
    }

    private static RdfIri JurisdictionIri(string document, string jurisdiction) =>
        Iri($"{document}#jurisdiction-{Uri.EscapeDataString(jurisdiction)}");

    private static RdfIri RegionIri(string document, CatalogRegion place) =>
        Iri($"{document}#region-{Uri.EscapeDataString(place.Jurisdiction)}-{Uri.EscapeDataString(place.Region)}");

    /// <summary>Triples in the order they were added, each once.</summary>
    private sealed class Graph
    {
        private readonly HashSet<Triple> _seen = [];

        public List<Triple> Triples { get; } = [];

        public void Type(RdfIri subject, string welkinClass) => Add(subject, Vocabulary.Type, Iri(Wk + welkinClass));

        public void Add(RdfIri subject, string predicate, RdfTerm value)
        {
            var triple = new Triple(subject, new RdfIri(predicate), value);
            if (_seen.Add(triple))
            {
                Triples.Add(triple);
            }
        }
    }
}
