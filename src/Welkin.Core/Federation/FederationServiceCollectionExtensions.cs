using Microsoft.Extensions.DependencyInjection;

namespace Welkin.Core.Federation;

public static class FederationServiceCollectionExtensions
{
    /// <summary>The peer store, the capacity summary a cloud publishes, and federation agreements' store and provider side, the cloud's bursting policy; needs the Service Manager (AddServiceManager).</summary>
    public static IServiceCollection AddFederationPeers(this IServiceCollection services)
    {
        services.AddSingleton<PeerStore>();
        services.AddSingleton<CapacitySummary>();
        services.AddSingleton<AgreementStore>();
        services.AddSingleton<AgreementProvider>();
        services.AddSingleton<ResaleStore>();
        services.AddSingleton<BurstPolicies>();
        return services;
    }
}
