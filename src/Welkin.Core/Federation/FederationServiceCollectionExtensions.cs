using Microsoft.Extensions.DependencyInjection;

namespace Welkin.Core.Federation;

public static class FederationServiceCollectionExtensions
{
    /// <summary>The peer store and the capacity summary a cloud publishes; needs the Service Manager (AddServiceManager).</summary>
    public static IServiceCollection AddFederationPeers(this IServiceCollection services)
    {
        services.AddSingleton<PeerStore>();
        services.AddSingleton<CapacitySummary>();
        return services;
    }
}
