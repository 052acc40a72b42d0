namespace Welkin.Contracts;

// Data artifacts of the Configuration Manager (Table 1, "Provision Resource": the consumer
// configures its servers to use the provider's storage and network). Volumes are CIMI Volumes
// drawn from storage lines of a contract; networks are tenant networks (CIMI Network) with
// addresses Welkin allocates.

public enum VolumeState
{
    /// <summary>Detached and ready to attach or delete.</summary>
    Available,

    /// <summary>An attach job is running.</summary>
    Attaching,

    Attached,

    /// <summary>A detach job is running.</summary>
    Detaching,

    /// <summary>Being released with its contract (detached first, then deleted).</summary>
    Deleting,

    /// <summary>Deleted; its increments went back to the contract line and the account.</summary>
    Deleted,
}

/// <summary>A block volume of <paramref name="SizeGiB"/> (a whole number of the line's increments).</summary>
/// <param name="Item">The storage line of the contract the volume draws on.</param>
/// <param name="Device">The guest device (vdb, vdc, ...) while attached.</param>
/// <param name="Applied">False while an attachment is recorded but not yet on the machine (it takes effect at the machine's next start).</param>
public sealed record VolumeView(
    string Id,
    string AccountId,
    string ContractId,
    int Item,
    string Name,
    long SizeGiB,
    VolumeState State,
    string? MachineId,
    string? Device,
    bool Applied,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated,
    DateTimeOffset? Deleted);

/// <param name="SizeGiB">A positive multiple of the storage line's increment (Table 1: 100 GB).</param>
/// <param name="Item">The contract line (default: the first storage line).</param>
public sealed record CreateVolumeRequest(string ContractId, long SizeGiB, string? Name = null, int? Item = null);

/// <summary>Attach a volume to a machine of the same account.</summary>
public sealed record AttachVolumeRequest(string MachineId, long? Version = null);

/// <summary>Detach a volume from the machine it is attached to.</summary>
public sealed record DetachVolumeRequest(long? Version = null);

/// <summary>Delete a detached volume.</summary>
public sealed record DeleteVolumeRequest(long? Version = null);

public enum NetworkState
{
    Available,
    Deleted,
}

public enum NetworkAttachmentState
{
    Connecting,
    Connected,
    Disconnecting,
}

/// <summary>A machine's NIC on a tenant network.</summary>
/// <param name="Applied">False while the connection is recorded but not yet on the machine (it takes effect at the machine's next start).</param>
public sealed record NetworkAttachmentView(string MachineId, string Address, string Mac, NetworkAttachmentState State, bool Applied, DateTimeOffset Created);

/// <param name="Cidr">IPv4 network in CIDR notation, /16 to /29.</param>
/// <param name="Gateway">The network's first host address; never given to a machine.</param>
public sealed record NetworkView(
    string Id,
    string AccountId,
    string Name,
    string Cidr,
    string Gateway,
    NetworkState State,
    IReadOnlyList<NetworkAttachmentView> Attachments,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated);

/// <param name="Cidr">Default 10.0.0.0/24; must not overlap the account's other networks.</param>
public sealed record CreateNetworkRequest(string Name, string? Cidr = null);

/// <summary>Connect a machine of the same account to the network (it gets the lowest free address).</summary>
public sealed record ConnectNetworkRequest(string MachineId, long? Version = null);

/// <summary>Disconnect a machine from the network (its address becomes free).</summary>
public sealed record DisconnectNetworkRequest(string MachineId, long? Version = null);

/// <summary>
/// Configurable properties (OVF ProductSection) of a machine, or of every machine of an instance.
/// Keys must be user-configurable properties of the template's virtual system; values are checked
/// against the property's type and allowed values. <paramref name="Version"/> guards the machine
/// (or instance) against acting on a stale read.
/// </summary>
public sealed record ConfigurationRequest(IReadOnlyDictionary<string, string> Properties, long? Version = null);

