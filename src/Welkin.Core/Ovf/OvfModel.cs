namespace Welkin.Core.Ovf;

// The parsed form of a DMTF OVF envelope (DSP0243 1.x and 2.x). Only what Welkin maps onto
// templates and images is kept; vendor extensions (vbox:, vmw:) are read past.

public enum OvfVersion
{
    V1,
    V2,
}

/// <param name="Configurations">The ids of DeploymentOptionSection's configurations, in order; empty without one.</param>
public sealed record OvfEnvelope(
    OvfVersion Version,
    IReadOnlyList<OvfFile> Files,
    IReadOnlyList<OvfDisk> Disks,
    IReadOnlyList<OvfNetwork> Networks,
    OvfContent Content,
    string? DefaultConfiguration = null,
    IReadOnlyList<string>? Configurations = null);

/// <param name="Size">Bytes, when the envelope states it.</param>
/// <param name="ChunkSize">
/// ovf:chunkSize (OVF 2.0 5.4): the file is split into HREF.000000000, HREF.000000001, … of this
/// many bytes each (the last one shorter), to be joined in order.
/// </param>
public sealed record OvfFile(string Id, string Href, long? Size, string? Compression, long? ChunkSize = null);

public sealed record OvfDisk(string DiskId, string? FileRef, long CapacityBytes, string? Format, long? PopulatedSizeBytes);

public sealed record OvfNetwork(string Name, string? Description);

/// <summary>A VirtualSystem or a VirtualSystemCollection (OVF 2.0 8.1: the envelope holds exactly one content element).</summary>
public abstract record OvfContent(string Id, string? Name, string? Info, string? Annotation, IReadOnlyList<OvfProduct> Products);

/// <param name="BootOrder">
/// InstanceIDs of items in boot order, as an OVF 2.0 BootDeviceSection (the last ':'-separated part of each
/// StructuredBootString) or a VMware vmw:BootOrderSection (vmw:instanceId) says; empty when neither is there.
/// </param>
public sealed record OvfVirtualSystem(
    string Id,
    string? Name,
    string? Info,
    string? Annotation,
    IReadOnlyList<OvfProduct> Products,
    IReadOnlyList<OvfHardwareItem> Hardware,
    OvfOperatingSystem? OperatingSystem,
    string? VirtualSystemType,
    IReadOnlyList<string>? BootOrder = null) : OvfContent(Id, Name, Info, Annotation, Products);

public sealed record OvfVirtualSystemCollection(
    string Id,
    string? Name,
    string? Info,
    string? Annotation,
    IReadOnlyList<OvfProduct> Products,
    IReadOnlyList<OvfContent> Children) : OvfContent(Id, Name, Info, Annotation, Products)
{
    /// <summary>Every VirtualSystem below this collection, depth first.</summary>
    public IEnumerable<OvfVirtualSystem> VirtualSystems() =>
        Children.SelectMany(c => c switch
        {
            OvfVirtualSystem vs => [vs],
            OvfVirtualSystemCollection vsc => vsc.VirtualSystems(),
            _ => [],
        });
}

/// <summary>A RASD item (OVF 2.0 9.8; Item, StorageItem or EthernetPortItem).</summary>
/// <param name="Configuration">The DeploymentOptionSection configurations this item belongs to; null for all.</param>
public sealed record OvfHardwareItem(
    int ResourceType,
    string InstanceId,
    string? ElementName,
    long? VirtualQuantity,
    string? AllocationUnits,
    IReadOnlyList<string> HostResources,
    IReadOnlyList<string> Connections,
    string? ResourceSubType,
    string? Configuration,
    int? Line = null)
{
    /// <summary>Whether the item is tied to <paramref name="configuration"/> (ovf:configuration is a space-separated list).</summary>
    public bool In(string? configuration) =>
        configuration is not null && Configuration is not null
        && Configuration.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(configuration, StringComparer.Ordinal);

    public const int Processor = 3;
    public const int Memory = 4;
    public const int EthernetAdapter = 10;
    public const int DiskDrive = 17;
    public const int StorageExtent = 19;
    public const int LogicalDisk = 31;

    /// <summary>
    /// Whether the item attaches a disk: a disk drive (17), or a storage extent (19) or logical disk (31)
    /// whose host resource is a disk of the DiskSection, as some producers write them.
    /// </summary>
    public bool IsDisk => ResourceType == DiskDrive
        || (ResourceType is StorageExtent or LogicalDisk && HostResources.Any(h => DiskId(h) is not null));

    /// <summary>The disk id of an <c>ovf:/disk/ID</c> (or <c>/disk/ID</c>) host resource; null for any other.</summary>
    public static string? DiskId(string hostResource) =>
        hostResource.StartsWith("ovf:/disk/", StringComparison.Ordinal) ? hostResource[10..]
        : hostResource.StartsWith("/disk/", StringComparison.Ordinal) ? hostResource[6..] : null;
}

public sealed record OvfProduct(string? Class, string? Instance, string? Product, string? Vendor, string? Version, IReadOnlyList<OvfProperty> Properties);

/// <param name="Key">The key as written (ovf:key), without class or instance.</param>
/// <param name="Type">ovf:type as written (string, boolean, uint16, sint64, real64...).</param>
public sealed record OvfProperty(
    string Key,
    string Type,
    string? Default,
    bool UserConfigurable,
    string? Label,
    string? Description,
    string? Qualifiers,
    bool Password);

/// <param name="Id">The CIM_OperatingSystem OsType number (ovf:id).</param>
/// <param name="OsType">A vendor's finer name (vmw:osType, vbox:OSType), when present.</param>
public sealed record OvfOperatingSystem(int Id, string? Description, string? OsType, string? Version);
