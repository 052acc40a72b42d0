using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Security;

namespace Welkin.Core.Catalog.Description;

/// <summary>
/// The public catalog as RDF: read at every call from the offerings and templates (so a publication,
/// a withdrawal or a replacement offering shows in the next description) and the fabric's pools.
/// </summary>
public sealed class CatalogDescriptionService(OfferingService offerings, TemplateService templates, ComputeFabric fabric)
{
    /// <summary>
    /// A stamp of everything a description is made from: it changes with any change to an offering or
    /// a template (every write bumps a row's version and time, and adds or removes rows), with the
    /// fabric's regions, and with the cloud described. Two equal stamps describe the same graph, so a
    /// graph loaded for one serves the other; two queries of aggregates, against building the whole description.
    /// </summary>
    public async Task<string> StampAsync(DescribedCloud cloud, CancellationToken ct)
    {
        var regions = string.Join(",", fabric.Hosts.Select(h => h.Jurisdiction + "/" + h.Region).Distinct().Order(StringComparer.Ordinal));
        return string.Join("|", cloud.ApiBase, cloud.Name, cloud.FederationUrl, cloud.CertificateFingerprint, regions,
            await offerings.StampAsync(ct), await templates.StampAsync(ct));
    }

    public async Task<Result<IReadOnlyList<Triple>>> DescribeAsync(Caller caller, DescribedCloud cloud, CancellationToken ct)
    {
        if (!caller.Can(Permission.CatalogBrowse))
        {
            return Error.Forbidden("Browsing the catalog needs the catalog-browse permission.");
        }
        var published = await offerings.AllPublishedAsync(ct);
        var named = new List<Welkin.Contracts.TemplateView>();
        foreach (var (id, n) in published
            .Where(o => o.Spec.TemplateId is not null && o.Spec.TemplateVersion is not null)
            .Select(o => (o.Spec.TemplateId!, o.Spec.TemplateVersion!.Value))
            .Distinct())
        {
            if (await templates.FindViewAsync(id, n, ct) is { } template)
            {
                named.Add(template);
            }
        }
        var regions = fabric.Hosts.Select(h => new CatalogRegion(h.Jurisdiction, h.Region)).Distinct().ToList();
        return CatalogGraph.Build(new CatalogSnapshot(cloud, published, named, regions)).ToArray();
    }
}
