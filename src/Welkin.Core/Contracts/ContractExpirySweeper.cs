using Microsoft.Extensions.Logging;
using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Core.Contracts;

/// <summary>
/// Expires proposals nobody accepted in time and returns their units to the account, every
/// <see cref="ContractOptions.SweepInterval"/> of the server's clock: in simulation mode a proposal
/// expires when virtual time passes its deadline, at the same tick on every run.
/// </summary>
public sealed class ContractExpirySweeper(ContractService contracts, ContractOptions options, ILogger<ContractExpirySweeper> logger) : IPeriodicWork
{
    public string Name => "contracts.expire";

    public TimeSpan Interval => options.SweepInterval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        var expired = await contracts.ExpireDueAsync(Caller.System("contract-expiry"), ct);
        if (expired > 0)
        {
            logger.LogInformation("Expired {Count} contract proposals at {Tick}", expired, now);
        }
    }
}
