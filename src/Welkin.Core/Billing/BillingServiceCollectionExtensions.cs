using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Welkin.Core.Common;

namespace Welkin.Core.Billing;

public static class BillingServiceCollectionExtensions
{
    /// <summary>
    /// Rating, invoices and price plan versions, and the periodic work that issues invoices.
    /// The meter is taken from <see cref="IUsageMeter"/> when one is registered (before or after this call).
    /// </summary>
    public static IServiceCollection AddBilling(this IServiceCollection services, BillingOptions? options = null)
    {
        options ??= new BillingOptions();
        if (options.Problem() is { } problem)
        {
            throw new InvalidOperationException(problem);
        }
        services.AddSingleton(options);
        services.TryAddSingleton<IUsageMeter, NoUsageMeter>();
        services.AddSingleton<InvoiceService>();
        services.AddSingleton<BillingAddresses>();
        services.AddPeriodicWork<InvoiceIssuer>();
        return services;
    }
}
