using Microsoft.Extensions.Logging;
using Welkin.Core.Common;

namespace Welkin.Core.Billing;

/// <summary>
/// Issues invoices by itself: after each billing period ends, the period's invoices; after an
/// account closes, its final invoice. Runs every <see cref="BillingOptions.Interval"/>.
/// </summary>
public sealed class InvoiceIssuer(InvoiceService invoices, BillingOptions options, ILogger<InvoiceIssuer> logger) : IPeriodicWork
{
    public string Name => "invoicing";

    public TimeSpan Interval => options.Interval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        var issued = await invoices.IssueDueAsync(now, ct);
        if (issued > 0)
        {
            logger.LogInformation("Issued {Count} invoices", issued);
        }
    }
}
