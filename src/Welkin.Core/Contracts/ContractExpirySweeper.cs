using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Welkin.Core.Security;

namespace Welkin.Core.Contracts;

/// <summary>Expires proposals nobody accepted in time and returns their units to the account.</summary>
public sealed class ContractExpirySweeper(ContractService contracts, ContractOptions options, ILogger<ContractExpirySweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var expired = await contracts.ExpireDueAsync(Caller.System("contract-expiry"), stoppingToken);
                if (expired > 0)
                {
                    logger.LogInformation("Expired {Count} contract proposals", expired);
                }
                await Task.Delay(options.SweepInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                // The next sweep retries; a proposal past its time is also refused at accept.
                logger.LogWarning(e, "Sweeping expired contract proposals failed");
                await Task.Delay(options.SweepInterval, stoppingToken);
            }
        }
    }
}
