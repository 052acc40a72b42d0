using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Welkin.Cli.Infrastructure;

namespace Welkin.Cli.Commands;

/// <summary>
/// <c>welkin catalog find</c>: the cloud's own published offerings that meet a requirement, read from its
/// public catalog description (SPARQL), which knows what the offering list does not: each offering's
/// virtual systems and the jurisdictions it may run in.
/// </summary>
internal static partial class CatalogFind
{
    private sealed record CatalogMatch(string Id, string Name, string VirtualSystem, int Vcpus, long MemoryMiB, string Jurisdiction, string Region);

    public static Command Create(CliApp app)
    {
        var vcpus = Opt.Number("--vcpus", "At least this many vCPUs for one virtual system.");
        var jurisdiction = Opt.Text("--jurisdiction", "Only offerings that may run in this jurisdiction (ISO 3166 code, e.g. DE).", "code");
        var command = new Command("find", "Find the published offerings that meet every criterion given: one row per offering, virtual system and region (no login needed).")
        {
            vcpus, jurisdiction,
        };
        app.Handle(command, async inv =>
        {
            if (inv.Value(vcpus) is < 1)
            {
                throw new CliException("--vcpus must be at least 1.");
            }
            var country = inv.Value(jurisdiction);
            if (country is not null && !Country().IsMatch(country))
            {
                throw new CliException($"'{country}' is not a jurisdiction (--jurisdiction): give an ISO 3166 country code of two letters, e.g. DE.");
            }
            var results = await inv.Client().Catalog.QueryAsync(Query(inv.Value(vcpus), country?.ToUpperInvariant()), inv.Ct);
            return inv.ShowList(Matches(results), "No published offering meets the criteria.",
                new Column<CatalogMatch>("Id", m => m.Id),
                new Column<CatalogMatch>("Name", m => m.Name),
                new Column<CatalogMatch>("System", m => m.VirtualSystem),
                new Column<CatalogMatch>("vCPUs", m => Fmt.Number(m.Vcpus)),
                new Column<CatalogMatch>("Memory", m => Fmt.Bytes(m.MemoryMiB * 1024 * 1024)),
                new Column<CatalogMatch>("Where", m => $"{m.Jurisdiction}/{m.Region}"));
        });
        return command;
    }

    // Welkin's ontology (docs/ontology/welkin.ttl), as the federated selection asks a peer's catalog.
    private static string Query(int? vcpus, string? jurisdiction)
    {
        var filters = new List<string> { "?type = wk:Offering" };
        if (vcpus is { } n)
        {
            filters.Add($"?vcpus >= {n.ToString(CultureInfo.InvariantCulture)}");
        }
        if (jurisdiction is not null)
        {
            filters.Add($"STR(?jurisdiction) = \"{jurisdiction}\"");
        }
        var q = new StringBuilder();
        q.Append("PREFIX wk: <https://welkin.dev/ns/cloud#>\n");
        q.Append("PREFIX dcterms: <http://purl.org/dc/terms/>\n");
        q.Append("SELECT DISTINCT ?id ?title ?system ?vcpus ?memory ?jurisdiction ?region WHERE {\n");
        q.Append("  ?offering a ?type .\n");
        q.Append("  ?offering wk:availableIn ?place . ?place wk:jurisdiction ?j . ?j dcterms:identifier ?jurisdiction .\n");
        q.Append("  ?offering wk:virtualSystem ?vs . ?vs dcterms:title ?system ; wk:vcpus ?vcpus ; wk:memoryMiB ?memory .\n");
        q.Append("  ?offering dcterms:identifier ?id ; dcterms:title ?title . ?place dcterms:identifier ?region .\n");
        q.Append("  FILTER(").Append(string.Join(" && ", filters)).Append(")\n");
        q.Append("}\n");
        q.Append("ORDER BY ?id ?system ?region ?vcpus ?memory\n");
        return q.ToString();
    }

    // One row per offering, virtual system and region, with the fewest vCPUs and the least memory that meet the criteria.
    private static List<CatalogMatch> Matches(JsonElement results)
    {
        var matches = new Dictionary<(string, string, string), CatalogMatch>();
        foreach (var row in results.GetProperty("results").GetProperty("bindings").EnumerateArray())
        {
            string? Text(string name) => row.TryGetProperty(name, out var term) ? term.GetProperty("value").GetString() : null;
            if (Text("id") is not { } id || Text("title") is not { } title || Text("system") is not { } system || Text("jurisdiction") is not { } country || Text("region") is not { } region
                || !int.TryParse(Text("vcpus"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
                || !long.TryParse(Text("memory"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var memory))
            {
                continue;
            }
            var key = (id, system, region);
            matches[key] = matches.TryGetValue(key, out var known)
                ? known with { Vcpus = Math.Min(known.Vcpus, v), MemoryMiB = Math.Min(known.MemoryMiB, memory) }
                : new CatalogMatch(id, title, system, v, memory, country, region);
        }
        return [.. matches.Values.OrderBy(m => m.Id, StringComparer.Ordinal).ThenBy(m => m.VirtualSystem, StringComparer.Ordinal).ThenBy(m => m.Region, StringComparer.Ordinal)];
    }

    [GeneratedRegex("^[A-Za-z]{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex Country();
}
