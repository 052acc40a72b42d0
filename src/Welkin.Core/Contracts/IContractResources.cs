using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Core.Contracts;

/// <summary>
/// A kind of resource a contract holds (machines, volumes, ...). Terminating a contract asks
/// every registered owner to release what the contract holds before the contract is marked
/// terminated, so "Terminate Contract" frees the servers and associated storage (Table 1).
/// To add a kind of resource: implement this and register it as a singleton IContractResources.
/// </summary>
public interface IContractResources
{
    /// <summary>"machines", "volumes", ...; used in job status messages.</summary>
    string Kind { get; }

    /// <summary>
    /// Releases everything of this kind that <paramref name="contractId"/> holds, returning its
    /// units to the contract and the account (and recording the usage events metering needs),
    /// and returns once all of it is released. Idempotent: run again after a crash, it finishes
    /// what an earlier run began. Returns how many resources it released in this run.
    /// </summary>
    Task<Result<int>> ReleaseContractAsync(Caller caller, string contractId, CancellationToken ct);
}
