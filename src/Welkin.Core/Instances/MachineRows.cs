using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Compute;

namespace Welkin.Core.Instances;

/// <summary>
/// What a machine row keeps beyond its columns: the choices it was made with, so that it can be re-created after a crash,
/// its data disks among them (the row's disk column is its system disk).
/// </summary>
/// <param name="Secrets">The keys of its password properties, whose values views mask.</param>
internal sealed record MachineConfig(
    int Item,
    string? OperatingSystem,
    IReadOnlyDictionary<string, string> Software,
    IReadOnlyDictionary<string, string> Properties,
    string? SshPublicKey,
    string? AntiAffinityGroup,
    IReadOnlyList<DataDisk>? DataDisks = null,
    IReadOnlyList<string>? Secrets = null);

/// <summary>How to reach a machine as stored: never a password, only its hash once one was issued.</summary>
internal sealed record StoredAccess(
    IReadOnlyList<string> Addresses,
    IReadOnlyList<AccessEndpoint> Endpoints,
    string User,
    string? SshKeyFingerprint,
    string? PasswordHash = null);

/// <summary>An instance's spec column: the resolved choices, the data disks each machine of a virtual system gets, and where its machines may run.</summary>
/// <param name="Secrets">Per virtual system, the keys of its password properties, whose values views mask.</param>
internal sealed record InstanceSpec(
    IReadOnlyList<VirtualSystemChoice> VirtualSystems,
    bool AntiAffinity,
    IReadOnlyList<string>? Jurisdictions,
    IReadOnlyList<string>? Regions,
    string LimitUnit,
    string? SshPublicKey,
    IReadOnlyDictionary<string, string?> Images,
    IReadOnlyDictionary<string, IReadOnlyList<DataDisk>>? DataDisks = null,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Secrets = null);

internal sealed record MachineRow(
    string Id, string AccountId, string InstanceId, string ContractId, string VirtualSystem, string Name, string State, string? Host,
    long Vcpus, long MemoryMiB, long DiskGiB, string? ImageId, string Config, string? Access, string? Error, long Version,
    long CreatedAt, long UpdatedAt, long StateChangedAt, long? TerminatedAt, string? Pool, string? Peer)
{
    public MachineState MachineState => WireNames.Parse<MachineState>(State);

    public MachineConfig ParsedConfig => JsonSerializer.Deserialize<MachineConfig>(Config, WelkinJson.Client)!;

    public IReadOnlyList<DataDisk> DataDisks => ParsedConfig.DataDisks ?? [];

    /// <summary>The system disk and the data disks: what the machine takes of its host's storage and is metered for.</summary>
    public long TotalDiskGiB => DiskGiB + DataDisks.Sum(d => d.SizeGiB);

    public StoredAccess? ParsedAccess => Access is null ? null : JsonSerializer.Deserialize<StoredAccess>(Access, WelkinJson.Client);

    /// <summary>True while the machine holds host capacity and a unit of its contract line.</summary>
    public bool Holds => TerminatedAt is null;

    public Core.Placement.Placement? Placement =>
        Host is null ? null : new Core.Placement.Placement(Host, (int)Vcpus, MemoryMiB, TotalDiskGiB, ParsedConfig.AntiAffinityGroup);
}

internal sealed record InstanceRow(
    string Id, string AccountId, string ContractId, long Item, string OfferingId, string TemplateId, long TemplateVersion, string Name,
    string State, string Spec, long Version, long CreatedAt, long UpdatedAt, long? TerminatedAt)
{
    public InstanceSpec ParsedSpec => JsonSerializer.Deserialize<InstanceSpec>(Spec, WelkinJson.Client)!;
}
