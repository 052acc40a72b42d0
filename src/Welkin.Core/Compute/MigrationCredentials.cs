using Welkin.Core.Common;

namespace Welkin.Core.Compute;

/// <summary>
/// This cloud's federation certificate as the PEM files a hypervisor reads for a live move between clouds
/// (<see cref="MigrationTls"/>). The server provides it from its federation credentials; without federation
/// there is none and live moves between clouds are refused.
/// </summary>
public interface IMigrationCredentials
{
    /// <summary>The files, with <paramref name="peerName"/> as what the other side's certificate must say; <c>unsupported</c> without federation.</summary>
    Result<MigrationTls> For(string? peerName);

    /// <summary>
    /// What this cloud's certificate names (the host of its federation API URL): a peer's hypervisor sending a machine
    /// here checks it; null without federation.
    /// </summary>
    string? OwnName => null;
}

/// <summary>A cloud outside any federation: no certificate to move machines between clouds with.</summary>
public sealed class NoMigrationCredentials : IMigrationCredentials
{
    public Result<MigrationTls> For(string? peerName) => DriverErrors.Unsupported("live moves between clouds without federation credentials");
}
