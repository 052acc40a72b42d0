namespace Welkin.Contracts;

// Data artifacts of the Service Manager (contracts, instances, machines, jobs), the Configuration
// Manager (volumes, networks) and the event log. Shapes follow DMTF CIMI (DSP0263) where it has
// one: asynchronous work is a Job, machines have CIMI's states, collections are pages.

public enum ContractState
{
    /// <summary>The provider's answer to a request: quantities, prices, SLA and term, valid until it expires.</summary>
    Proposed,
    Active,
    /// <summary>Not accepted in time; its units went back to the account.</summary>
    Expired,
    Rejected,
    /// <summary>Termination accepted; resources are being released.</summary>
    Terminating,
    Terminated,
}

/// <summary>One line of a contract request: so many units of a published offering.</summary>
/// <param name="Quantity">Compute offerings: machines. Storage offerings: increments of the offering's size (Table 1: 100 GB).</param>
public sealed record ContractItemRequest(string OfferingId, int Quantity);

/// <param name="TermMonths">Length of the contract term; at least the offerings' minimum period. Defaults to that minimum (or 1).</param>
/// <param name="Constraints">Where the consumer wants its resources (narrows the offerings' own constraints).</param>
public sealed record ContractRequest(
    IReadOnlyList<ContractItemRequest> Items,
    string? Name = null,
    int? TermMonths = null,
    PlacementConstraints? Constraints = null);

/// <summary>
/// A contract line as proposed: a copy of the offering's commercial terms at the time of the
/// proposal, so that later changes to the offering never change a signed contract.
/// </summary>
/// <param name="Item">Position of the line in the contract (0, 1, ...), stable across amendments.</param>
/// <param name="Units">Units of <paramref name="LimitUnit"/> the line holds against the account's limit (one per machine or increment).</param>
public sealed record ContractItem(
    int Item,
    string OfferingId,
    string OfferingName,
    OfferingKind Kind,
    int Quantity,
    string LimitUnit,
    long Units,
    PricePlan PricePlan,
    SlaTerms Sla,
    OfferingTerms Terms,
    string? TemplateId = null,
    int? TemplateVersion = null,
    IReadOnlyList<VirtualSystemRestriction>? Choices = null,
    StorageSpec? Storage = null,
    PlacementConstraints? Constraints = null);

/// <summary>How much of a line is in use: machines (compute) or increments (storage) provisioned now.</summary>
public sealed record ContractItemUsage(int Item, int Quantity, long Provisioned);

/// <param name="Revision">1 when proposed; each accepted amendment adds one.</param>
/// <param name="Version">Row version for optimistic concurrency.</param>
public sealed record ContractView(
    string Id,
    string AccountId,
    string? Name,
    ContractState State,
    int Revision,
    IReadOnlyList<ContractItem> Items,
    IReadOnlyList<ContractItemUsage> Usage,
    int TermMonths,
    PlacementConstraints? Constraints,
    string RequestedBy,
    DateTimeOffset? ProposalExpires,
    DateTimeOffset? Accepted,
    DateTimeOffset? TermEnds,
    DateTimeOffset? Terminated,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated);

/// <summary>Accept, reject or terminate; <paramref name="Version"/> guards against acting on a stale read.</summary>
public sealed record ContractTransitionRequest(long? Version = null, string? Reason = null);

/// <summary>
/// Update Contract (Table 1): new quantities for existing lines, new lines, or a new term.
/// Items name lines by offering; an offering not yet in the contract becomes a new line.
/// </summary>
public sealed record ContractAmendmentRequest(
    IReadOnlyList<ContractItemRequest>? Items = null,
    int? TermMonths = null,
    string? Name = null,
    string? Reason = null,
    long? Version = null);

/// <summary>One revision of a contract as it stood, for the readable history.</summary>
public sealed record ContractRevisionView(
    int Revision,
    IReadOnlyList<ContractItem> Items,
    int TermMonths,
    string ChangedBy,
    string? Reason,
    DateTimeOffset Created);

/// <summary>What an account's limits allow and what its contracts hold, per unit.</summary>
/// <param name="Ordered">Units held by proposed and active contracts.</param>
/// <param name="Provisioned">Units provisioned now (machines, storage increments).</param>
public sealed record QuotaView(string Unit, long Limit, long Ordered, long Provisioned);

/// <summary>Terminate the relationship (Table 1, "Terminate Contract"): closes the account.</summary>
public sealed record CloseAccountRequest(long? Version = null, string? Reason = null);

public sealed record CloseAccountResponse(AccountView Account, IReadOnlyList<string> TerminatedContracts, int RevokedTokens, JobView? Job);

// ---- Service instances and machines -------------------------------------------------------

public enum InstanceState
{
    Provisioning,
    Active,
    /// <summary>Every machine of the instance is inactive.</summary>
    Inactive,
    Error,
    Terminating,
    Terminated,
}

/// <summary>CIMI machine states, reduced to those Welkin uses; Table 1: provisioning → running → inactive → terminated, plus error.</summary>
public enum MachineState
{
    Provisioning,
    Running,
    Paused,
    /// <summary>Stopped (deactivated): keeps its disk and placement, uses no CPU.</summary>
    Inactive,
    Migrating,
    Terminating,
    Terminated,
    Error,

    /// <summary>
    /// Its cloud cannot be reached: the machine runs in a peer cloud that is offline or stopped
    /// answering. Not billed while unknown; the offering's SLA terms say whether the time counts as
    /// downtime. When the peer answers again the machine takes the state the peer reports.
    /// </summary>
    Unknown,
}

/// <summary>The consumer's choices for one virtual system of the template, within what the offering allows.</summary>
/// <param name="Count">Machines of this virtual system (default 1).</param>
/// <param name="ImageId">An image of the account (<see cref="AccountImageView"/>) to boot instead of the template's.</param>
/// <param name="DataVolumes">Size in GiB per data volume of the template's virtual system (<see cref="DataVolumeSpec.Name"/>), among its allowed sizes; 0 leaves an optional one out. Unnamed ones take their default.</param>
public sealed record VirtualSystemChoice(
    string VirtualSystem,
    int? Count = null,
    int? Vcpus = null,
    long? MemoryMiB = null,
    long? DiskGiB = null,
    string? OperatingSystem = null,
    string? HttpServer = null,
    string? DatabaseManager = null,
    IReadOnlyDictionary<string, string>? Properties = null,
    string? ImageId = null,
    IReadOnlyDictionary<string, long>? DataVolumes = null);

/// <summary>
/// Provision Resource (Table 1): a service instance from a compute line of an active contract.
/// Access: an SSH public key to inject, or none for a generated password that is shown once.
/// </summary>
/// <param name="Item">The contract line (default: the first compute line).</param>
/// <param name="AntiAffinity">Keep machines of one virtual system on different hosts.</param>
public sealed record ProvisionRequest(
    string ContractId,
    string? Name = null,
    int? Item = null,
    IReadOnlyList<VirtualSystemChoice>? VirtualSystems = null,
    string? SshPublicKey = null,
    PlacementConstraints? Constraints = null,
    bool AntiAffinity = false);

/// <summary>How to reach a machine. <paramref name="Password"/> appears once, in the job result of a provision without a key.</summary>
public sealed record MachineAccess(
    IReadOnlyList<string> Addresses,
    IReadOnlyList<AccessEndpoint> Endpoints,
    string User,
    string? SshKeyFingerprint,
    string? Password = null);

public sealed record AccessEndpoint(string Protocol, string Host, int Port, string? Name = null);

/// <summary>A disk of a machine beyond its system disk: a data volume of its template's virtual system, made with the machine and deleted with it.</summary>
/// <param name="ImageId">The image whose content the disk started with; null for a disk that started empty.</param>
/// <param name="Device">Where the guest sees it: vdb, vdc, … after the system disk (vda), before attached volumes.</param>
public sealed record MachineDataDisk(string Name, long SizeGiB, string? ImageId, string Device);

/// <param name="Pool">The host pool the machine runs in.</param>
/// <param name="Peer">The peer cloud (federation name) whose pool that is, when the machine burst there; null when it runs on this cloud's own hosts.</param>
/// <param name="Host">This cloud's host; null for a machine in a peer's pool (the peer places it on its own hosts).</param>
/// <param name="DiskGiB">The system disk; the data disks are in <paramref name="DataDisks"/>.</param>
/// <param name="DataDisks">Disks beyond the system disk, in the order they are attached; empty or null when it has none.</param>
public sealed record MachineView(
    string Id,
    string AccountId,
    string InstanceId,
    string ContractId,
    string VirtualSystem,
    string Name,
    MachineState State,
    string? Host,
    int Vcpus,
    long MemoryMiB,
    long DiskGiB,
    string? ImageId,
    string? OperatingSystem,
    IReadOnlyDictionary<string, string> Software,
    IReadOnlyDictionary<string, string> Properties,
    MachineAccess? Access,
    string? Error,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated,
    DateTimeOffset StateChanged,
    DateTimeOffset? Released = null,
    string? Pool = null,
    string? Peer = null,
    IReadOnlyList<MachineDataDisk>? DataDisks = null);

public sealed record InstanceView(
    string Id,
    string AccountId,
    string ContractId,
    int Item,
    string OfferingId,
    string TemplateId,
    int TemplateVersion,
    string Name,
    InstanceState State,
    IReadOnlyList<VirtualSystemChoice> VirtualSystems,
    IReadOnlyList<string> Machines,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated);

/// <summary>What a provision or scale job made: <see cref="JobView.Result"/> of instance.provision and instance.scale.</summary>
public sealed record ProvisionResult(string InstanceId, IReadOnlyList<ProvisionedMachine> Machines);

/// <summary>One machine of a <see cref="ProvisionResult"/>; <see cref="MachineAccess.Password"/> appears in the first read of the finished job only.</summary>
public sealed record ProvisionedMachine(string Id, string Name, string VirtualSystem, MachineState State, string? Host, MachineAccess? Access, string? Error);

/// <summary>Accepted asynchronous work: the job to poll and the resource it works on.</summary>
public sealed record AcceptedView<T>(JobView Job, T Resource);

/// <summary>One sample of a machine's counters (cumulative since it started), as the fabric reports it.</summary>
public sealed record MachineMetricsView(
    string MachineId,
    DateTimeOffset At,
    double CpuUtilizationPercent,
    long CpuTimeMs,
    long MemoryUsedBytes,
    long PageFaults,
    long DiskReadBytes,
    long DiskWriteBytes,
    long NetworkRxBytes,
    long NetworkTxBytes);

// ---- Change Manager -------------------------------------------------------------------------

/// <summary>Resize within the offering's allowed choices (the machine is restarted if running).</summary>
public sealed record ResizeRequest(int? Vcpus = null, long? MemoryMiB = null, long? Version = null);

/// <summary>Moves a machine to another host of the cloud: live when it runs or is paused, cold when it is inactive (Change Manager).</summary>
public sealed record MigrateRequest(string Host, long? Version = null);

/// <summary>How a machine moves to another host pool.</summary>
public enum MoveMode
{
    /// <summary>Stopped, packed as an OVA, carried over and started again where it was running.</summary>
    Cold,

    /// <summary>While the guest runs (memory and disk streamed to the destination).</summary>
    Live,
}

/// <summary>
/// Moves a machine to another host pool (Change Manager, operators): a peer cloud's pool, or back to
/// one of this cloud's pools (repatriation).
/// </summary>
/// <param name="Pool">The host pool to move to.</param>
/// <param name="Cloud">Instead of <paramref name="Pool"/>: the peer cloud (federation name) whose pool to move to.</param>
public sealed record MoveRequest(string? Pool = null, MoveMode Mode = MoveMode.Cold, long? Version = null, string? Cloud = null);

/// <summary>Scale one virtual system of an instance to <paramref name="Count"/> machines, within the contract.</summary>
public sealed record ScaleRequest(string VirtualSystem, int Count, long? Version = null);

/// <summary>start, stop (deactivate), pause, resume, reboot, destroy: CIMI actions.</summary>
public sealed record MachineActionRequest(long? Version = null, bool Force = false);

// ---- Jobs and events -------------------------------------------------------------------------

public enum JobState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>CIMI Job: asynchronous work with its action, target, state, progress and error.</summary>
/// <param name="Result">Action-specific JSON (for a provision: the machines and their one-time access).</param>
public sealed record JobView(
    string Id,
    string? AccountId,
    string Action,
    string Target,
    JobState State,
    int Progress,
    string? StatusMessage,
    string? ErrorCode,
    string? ErrorDetail,
    string? ParentId,
    System.Text.Json.JsonElement? Result,
    DateTimeOffset Created,
    DateTimeOffset? Started,
    DateTimeOffset? Finished);

/// <summary>
/// A lifecycle event. Usage-relevant types (machine.activated, machine.deactivated,
/// machine.provisioned, machine.released, volume.provisioned, volume.released, machine.resized)
/// carry exact times and sizes in <paramref name="Data"/> so metering can be derived from them.
/// </summary>
public sealed record EventView(
    long Seq,
    string? AccountId,
    string Type,
    string Target,
    DateTimeOffset At,
    IReadOnlyDictionary<string, string> Data,
    string? CorrelationId);

// ---- Fabric administration -----------------------------------------------------------------

/// <summary>Failure injection and maintenance on a host (provider operators).</summary>
public sealed record HostStateRequest(bool Down, string? Reason = null);

/// <param name="Pool">The host pool the host belongs to.</param>
public sealed record HostStatusView(string Name, string Region, string Jurisdiction, bool Down, long FreeCpuMilli, long FreeMemoryMiB, long FreeDiskGiB, int Machines, string? Pool = null);
