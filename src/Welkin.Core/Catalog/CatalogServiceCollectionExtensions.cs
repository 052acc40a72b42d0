using Microsoft.Extensions.DependencyInjection;

namespace Welkin.Core.Catalog;

public static class CatalogServiceCollectionExtensions
{
    /// <summary>Templates and offerings; needs the Security Manager's <see cref="Audit.AuditLog"/>.</summary>
    public static IServiceCollection AddServiceCatalog(this IServiceCollection services)
    {
        services.AddSingleton<TemplateService>();
        services.AddSingleton<OfferingService>();
        services.AddSingleton<Description.CatalogDescriptionService>();
        return services;
    }
}
