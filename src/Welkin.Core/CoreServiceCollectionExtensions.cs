using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Core;

public static class CoreServiceCollectionExtensions
{
    public static IServiceCollection AddSecurityManager(this IServiceCollection services, SecurityOptions? options = null, RefusalAuditOptions? refusalOptions = null, AccountOptions? accounts = null)
    {
        services.AddSingleton<AuditLog>();
        services.AddSingleton(refusalOptions ?? new RefusalAuditOptions());
        services.AddPeriodicWork<RefusalAudit>();
        services.AddHostedService(sp => sp.GetRequiredService<RefusalAudit>());
        services.AddSingleton<LoginThrottleOptions>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton(options ?? new SecurityOptions());
        services.AddSingleton<SecurityManager>();
        services.AddSingleton(accounts ?? new AccountOptions());
        services.AddSingleton<AccountService>();
        services.AddSingleton<LimitRequestService>();
        services.AddSingleton<Bootstrap>();
        return services;
    }
}
