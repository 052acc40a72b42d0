using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Intercloud.Rdf;

namespace Welkin.Server.Federation;

/// <summary>
/// What a federated selection looks for, each part optional: at least <see cref="Vcpus"/> vCPUs and
/// <see cref="MemoryMiB"/> of memory for one virtual system, a place in <see cref="Jurisdiction"/>, a
/// cpu-hour rate of at most <see cref="MaxPrice"/> in <see cref="Currency"/>, an availability target of
/// at least <see cref="Availability"/> percent. Only offerings priced per cpu-hour are selected.
/// </summary>
public sealed partial record OfferCriteria(int? Vcpus, long? MemoryMiB, string? Jurisdiction, decimal? MaxPrice, string? Currency, decimal? Availability)
{
    /// <summary>The rows each peer may give: its cheapest, which is all a ranked selection shows, and within a stanza.</summary>
    public const int RowsPerPeer = 100;

    /// <summary>The metric of the rate a selection compares (CatalogGraph writes it as wk:metric).</summary>
    public const string CpuHourMetric = "cpu-hour";

    /// <summary>Reads the query parameters of <c>GET /api/v1/federation/offers</c>; a clear validation error for what is wrong.</summary>
    public static Result<OfferCriteria> Parse(string? vcpus, string? memory, string? jurisdiction, string? maxPrice, string? currency, string? availability)
    {
        var errors = new List<string>();
        int? v = null;
        if (vcpus is not null)
        {
            if (int.TryParse(vcpus, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1024)
            {
                v = n;
            }
            else
            {
                errors.Add("vcpus must be a whole number from 1 to 1024");
            }
        }
        long? m = null;
        if (memory is not null)
        {
            m = ParseMemory(memory);
            if (m is null)
            {
                errors.Add("memory must be a size with its unit, e.g. 512MiB, 8GiB or 1TiB, of at most 64TiB");
            }
        }
        if (jurisdiction is not null && !Letters().IsMatch(jurisdiction))
        {
            errors.Add("jurisdiction must be an ISO 3166 country code of two letters, e.g. DE");
        }
        if (currency is not null && !Currencies().IsMatch(currency))
        {
            errors.Add("currency must be an ISO 4217 code of three letters, e.g. EUR");
        }
        var price = Decimal("maxPrice", maxPrice, 0m, 1_000_000m, errors);
        if (maxPrice is not null && currency is null)
        {
            errors.Add("maxPrice needs a currency: prices in different currencies cannot be compared");
        }
        var sla = Decimal("availability", availability, 0m, 100m, errors);
        return errors.Count > 0
            ? new Error("validation-failed", ErrorKind.Validation, string.Join("; ", errors) + ".")
            : new OfferCriteria(v, m, jurisdiction?.ToUpperInvariant(), price, currency?.ToUpperInvariant(), sla);
    }

    /// <summary>One SELECT over a peer's catalog description in Welkin's ontology (docs/ontology/welkin.ttl).</summary>
    public string ToSparql()
    {
        var filters = new List<string> { "?type = wk:Offering" };
        if (Vcpus is { } vcpus)
        {
            filters.Add($"?vcpus >= {vcpus.ToString(CultureInfo.InvariantCulture)}");
        }
        if (MemoryMiB is { } memory)
        {
            filters.Add($"?memory >= {memory.ToString(CultureInfo.InvariantCulture)}");
        }
        if (Jurisdiction is { } jurisdiction)
        {
            filters.Add($"STR(?jurisdiction) = \"{jurisdiction}\"");
        }
        if (Currency is { } currency)
        {
            filters.Add($"STR(?currency) = \"{currency}\"");
        }
        if (MaxPrice is { } price)
        {
            filters.Add($"?price <= {price.ToString(CultureInfo.InvariantCulture)}");
        }
        if (Availability is { } availability)
        {
            filters.Add($"?availability >= {availability.ToString(CultureInfo.InvariantCulture)}");
        }
        var q = new StringBuilder();
        q.Append("PREFIX wk: <https://welkin.dev/ns/cloud#>\n");
        q.Append("PREFIX dcterms: <http://purl.org/dc/terms/>\n");
        q.Append("PREFIX schema: <https://schema.org/>\n");
        q.Append("SELECT DISTINCT ?offering ?id ?title ?vcpus ?memory ?jurisdiction ?region ?price ?unit ?currency ?availability WHERE {\n");
        // Rasqal joins in the order written, each pattern an index lookup with what is bound so far: the
        // one constant leads (one cpu-hour rate per offering), every later pattern has its subject bound
        // and its object free, and the other constants are compared in the FILTER (docs/federation.md).
        q.Append("  ?rate wk:metric \"").Append(CpuHourMetric).Append("\" .\n");
        q.Append("  ?offering schema:priceSpecification ?rate .\n");
        q.Append("  ?offering a ?type .\n");
        q.Append("  ?rate schema:price ?price ; schema:priceCurrency ?currency ; schema:unitText ?unit .\n");
        q.Append("  ?offering wk:availableIn ?place . ?place wk:jurisdiction ?j . ?j dcterms:identifier ?jurisdiction .\n");
        q.Append("  ?offering wk:sla ?sla . ?sla wk:availabilityTarget ?availability .\n");
        q.Append("  ?offering wk:virtualSystem ?vs . ?vs wk:vcpus ?vcpus ; wk:memoryMiB ?memory .\n");
        q.Append("  ?offering dcterms:identifier ?id ; dcterms:title ?title . ?place dcterms:identifier ?region .\n");
        q.Append("  FILTER(").Append(string.Join(" && ", filters)).Append(")\n");
        q.Append("}\n");
        q.Append("ORDER BY ?price DESC(?availability) ?id ?vcpus ?memory\n");
        q.Append("LIMIT ").Append(RowsPerPeer.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return q.ToString();
    }

    /// <summary>
    /// The offers in a peer's rows: one per offering and region, with the fewest vCPUs and the least
    /// memory that meet the criteria; a row that does not read as an offer is skipped.
    /// </summary>
    public static IEnumerable<FederatedOffer> Offers(FederatedPeer peer, SparqlResults results)
    {
        var offers = new Dictionary<(string, string), FederatedOffer>();
        foreach (var row in results.Rows)
        {
            if (Read(peer, row) is not { } offer)
            {
                continue;
            }
            var key = (offer.OfferingId, offer.Region);
            offers[key] = offers.TryGetValue(key, out var known)
                ? known with { Vcpus = Math.Min(known.Vcpus, offer.Vcpus), MemoryMiB = Math.Min(known.MemoryMiB, offer.MemoryMiB) }
                : offer;
        }
        return offers.Values;
    }

    /// <summary>Cheapest first; at the same price the higher availability target; then by peer, offering and region so the order is stable.</summary>
    public static List<FederatedOffer> Rank(IEnumerable<FederatedOffer> offers) =>
        [.. offers.OrderBy(o => o.Price).ThenByDescending(o => o.Availability)
            .ThenBy(o => o.Peer.Name ?? o.Peer.Address, StringComparer.Ordinal).ThenBy(o => o.OfferingId, StringComparer.Ordinal)
            .ThenBy(o => o.Region, StringComparer.Ordinal)];

    private static FederatedOffer? Read(FederatedPeer peer, IReadOnlyDictionary<string, RdfTerm> row)
    {
        string? Text(string name) => row.TryGetValue(name, out var term) && term.Kind != RdfTermKind.Blank ? term.Value : null;
        if (Text("offering") is not { } url || Text("id") is not { } id || Text("title") is not { } title
            || !int.TryParse(Text("vcpus"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var vcpus)
            || !long.TryParse(Text("memory"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var memory)
            || Text("jurisdiction") is not { } jurisdiction || Text("region") is not { } region
            || !decimal.TryParse(Text("price"), NumberStyles.Number, CultureInfo.InvariantCulture, out var price)
            || Text("unit") is not { } unit || Text("currency") is not { } currency
            || !decimal.TryParse(Text("availability"), NumberStyles.Number, CultureInfo.InvariantCulture, out var availability))
        {
            return null;
        }
        return new FederatedOffer(peer, id, title, url, vcpus, memory, jurisdiction, region, price, unit, currency, availability);
    }

    private static long? ParseMemory(string text)
    {
        var match = Memory().Match(text);
        if (!match.Success || !decimal.TryParse(match.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            return null;
        }
        var mib = amount * match.Groups[2].Value.ToUpperInvariant() switch { "MIB" => 1m, "GIB" => 1024m, _ => 1024m * 1024m };
        return mib is >= 1m and <= 64m * 1024m * 1024m && decimal.Truncate(mib) == mib ? (long)mib : null;
    }

    private static decimal? Decimal(string name, string? text, decimal min, decimal max, List<string> errors)
    {
        if (text is null)
        {
            return null;
        }
        if (decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }
        errors.Add($"{name} must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
        return null;
    }

    [GeneratedRegex("^([0-9]{1,9}(?:\\.[0-9]{1,3})?)\\s?(MiB|GiB|TiB)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Memory();

    [GeneratedRegex("^[A-Za-z]{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex Letters();

    [GeneratedRegex("^[A-Za-z]{3}$", RegexOptions.CultureInvariant)]
    private static partial Regex Currencies();
}
