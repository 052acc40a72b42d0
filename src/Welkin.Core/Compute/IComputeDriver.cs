using System.Globalization;
using System.Threading.Channels;
using Welkin.Contracts;
using Welkin.Core.Common;

namespace Welkin.Core.Compute;

/// <summary>What the hypervisor reports about one machine.</summary>
public enum DriverMachineState
{
    Creating,
    Running,
    Paused,
    Stopped,
    Error,
}

/// <summary>A volume as the driver attaches it: a virtio disk of the given size.</summary>
public sealed record VolumeAttachment(string VolumeId, long SizeGiB, string Device);

/// <summary>A NIC on a tenant network with the address Welkin allocated.</summary>
public sealed record NetworkAttachment(string NetworkId, string Address, string Mac, string Cidr);

/// <summary>
/// A disk of the machine beyond its system disk (a data volume of its template's virtual system): made
/// when the machine is created, empty or holding the content of <paramref name="ImageId"/> grown to
/// <paramref name="SizeGiB"/>, attached after the system disk in the order of <see cref="MachineSpec.DataDisks"/>
/// (<paramref name="Device"/>: vdb, vdc, …, see <see cref="DataDisks.DeviceAt"/>), kept across stops,
/// restarts and moves, and destroyed with the machine. Volumes attached later take the devices after them.
/// </summary>
/// <param name="Name">Unique among the machine's data disks (the template's data volume name).</param>
public sealed record DataDisk(string Name, long SizeGiB, string? ImageId, string Device);

/// <summary>The rules every driver applies to <see cref="MachineSpec.DataDisks"/>, so all answer the same errors.</summary>
public static class DataDisks
{
    /// <summary>Devices vdb … vdq: a machine has at most this many data disks, and its volumes take the devices after them.</summary>
    public const int Max = 16;

    public const long MaxSizeGiB = 1L << 20;

    /// <summary>The device of the data disk at <paramref name="index"/> (0: vdb).</summary>
    public static string DeviceAt(int index) => "vd" + (char)('b' + index);

    /// <summary>
    /// A validation error when the data disks are not what Welkin makes: at most <see cref="Max"/>, names of
    /// 1-64 letters, digits, '-', '_' or '.', unique, sizes 1-<see cref="MaxSizeGiB"/> GiB, devices vdb, vdc, … in order.
    /// </summary>
    public static Error? Check(IReadOnlyList<DataDisk> disks)
    {
        ArgumentNullException.ThrowIfNull(disks);
        if (disks.Count > Max)
        {
            return Error.Validation("dataDisks", $"A machine has at most {Max} data disks.");
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < disks.Count; i++)
        {
            var d = disks[i];
            if (d is null || string.IsNullOrEmpty(d.Name) || d.Name.Length > 64 || !d.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
                || !names.Add(d.Name))
            {
                return Error.Validation($"dataDisks[{i}].name", "Data disk names are 1-64 letters, digits, '-', '_' or '.', unique within the machine.");
            }
            if (d.SizeGiB is < 1 or > MaxSizeGiB)
            {
                return Error.Validation($"dataDisks[{i}].sizeGiB", $"Data disk '{d.Name}' must be 1-{MaxSizeGiB} GiB.");
            }
            if (d.Device != DeviceAt(i))
            {
                return Error.Validation($"dataDisks[{i}].device", $"Data disk '{d.Name}' must be attached as {DeviceAt(i)} (data disks take vdb, vdc, … in order).");
            }
        }
        return null;
    }
}

/// <summary>Everything a driver needs to create one machine on the host placement chose.</summary>
/// <param name="InstanceId">The service instance the machine belongs to (drivers may label the machine with it).</param>
/// <param name="DataDisks">Disks beyond the system disk (<see cref="DataDisk"/>), in the order they are attached; none when null.</param>
public sealed record MachineSpec(
    string MachineId,
    string AccountId,
    string Host,
    int Vcpus,
    long MemoryMiB,
    long DiskGiB,
    string? ImageId,
    string? OperatingSystem,
    IReadOnlyDictionary<string, string> Software,
    IReadOnlyDictionary<string, string> Properties,
    string? SshPublicKey,
    IReadOnlyList<VolumeAttachment> Volumes,
    IReadOnlyList<NetworkAttachment> Networks,
    string? InstanceId = null,
    IReadOnlyList<DataDisk>? DataDisks = null)
{
    public IReadOnlyList<DataDisk> DataDisks { get; init; } = DataDisks ?? [];

    /// <summary>The system disk and the data disks together, as the host's storage holds them.</summary>
    public long TotalDiskGiB => DiskGiB + DataDisks.Sum(d => d.SizeGiB);

    /// <summary>Whether a create with <paramref name="other"/> repeats this one (same account, host, size, image and data disks), so a retry gets the existing machine.</summary>
    public bool DescribesSameMachine(MachineSpec other) =>
        other is not null && AccountId == other.AccountId && Host == other.Host && Vcpus == other.Vcpus && MemoryMiB == other.MemoryMiB
        && DiskGiB == other.DiskGiB && ImageId == other.ImageId && DataDisks.SequenceEqual(other.DataDisks);
}

/// <summary>A machine Welkin's database says exists, with the state it last recorded, for <see cref="IComputeDriver.RecoverAsync"/>.</summary>
public sealed record KnownMachine(MachineSpec Spec, DriverMachineState LastKnown);

/// <summary>A machine as the driver sees it.</summary>
public sealed record DriverMachine(
    string MachineId,
    string Host,
    DriverMachineState State,
    int Vcpus,
    long MemoryMiB,
    IReadOnlyList<string> Addresses,
    IReadOnlyList<AccessEndpoint> Endpoints,
    string? Error = null);

/// <summary>
/// One sample of a machine's counters (cumulative counters since the machine started).
/// <see cref="CpuUtilizationPercent"/> is in percent of the whole machine (all its vCPUs), 0 to 100.
/// </summary>
public sealed record MachineMetrics(
    DateTimeOffset At,
    double CpuUtilizationPercent,
    long CpuTimeMs,
    long MemoryUsedBytes,
    long PageFaults,
    long DiskReadBytes,
    long DiskWriteBytes,
    long NetworkRxBytes,
    long NetworkTxBytes);

/// <summary>Something that happened on the fabric without Welkin asking: a host failed or came back, a machine crashed.</summary>
public sealed record DriverEvent(string Kind, string Host, string? MachineId, string Detail, DateTimeOffset At)
{
    public const string HostFailed = "host-failed";
    public const string HostRecovered = "host-recovered";
    public const string MachineCrashed = "machine-crashed";

    /// <summary>
    /// The host cannot be reached (a peer cloud offline or not answering): its machines may still run,
    /// so they become unknown rather than failed, until <see cref="HostReachable"/>.
    /// </summary>
    public const string HostUnreachable = "host-unreachable";

    /// <summary>An unreachable host answers again: its machines take the states the driver reports.</summary>
    public const string HostReachable = "host-reachable";

    /// <summary>The guest powered itself off (its operating system shut down): the machine is stopped, not in error.</summary>
    public const string MachineStopped = "machine-stopped";
}

/// <summary>What a driver can do beyond the basics, so the Service Manager can say "not supported" up front.</summary>
[Flags]
public enum DriverCapabilities
{
    None = 0,
    Pause = 1,
    ResizeWhileRunning = 2,
    HotPlugVolumes = 4,
    HotPlugNetworks = 8,
    LiveProperties = 16,
    LiveMigration = 32,
    FailureInjection = 64,

    /// <summary>
    /// Connects this cloud's networks to its machines and applies its configuration properties; a driver whose
    /// machines belong to another cloud (a peer pool) cannot, and answers <c>unsupported</c>.
    /// </summary>
    Devices = 128,

    /// <summary>Attaches this cloud's volumes to its machines (a peer pool keeps them on the peer); without it, <c>unsupported</c>.</summary>
    Volumes = 256,

    /// <summary>Makes a machine's <see cref="MachineSpec.DataDisks"/>; without it, a create with data disks answers <c>unsupported</c>.</summary>
    DataDisks = 512,
}

/// <summary>What a hypervisor could not do, as a tenant is told it (<see cref="DriverErrors.HypervisorFailed"/>).</summary>
public enum HypervisorFailure
{
    /// <summary>The machine could not be launched (its hypervisor process did not start, or ended while booting).</summary>
    Launch,

    /// <summary>The machine's disk (or a volume) could not be prepared.</summary>
    Disk,

    /// <summary>The machine's disk could not be copied out.</summary>
    DiskCopy,

    /// <summary>The guest did not report ready in time.</summary>
    NotReady,

    /// <summary>The hypervisor refused a command.</summary>
    Command,

    /// <summary>A live migration did not complete; the machine stays where it was.</summary>
    Migration,

    /// <summary>The destination of a live move between fabrics could not be made ready; the machine stays where it was.</summary>
    IncomingMigration,

    /// <summary>The guest did not release a device in time.</summary>
    DeviceNotReleased,

    /// <summary>A running machine has no free slot for another device.</summary>
    NoDeviceSlot,

    /// <summary>Anything else the hypervisor failed at while carrying out an operation.</summary>
    Operation,
}

/// <summary>
/// Expected driver failures. Every driver answers with these codes, so callers never depend on which driver runs.
/// </summary>
/// <remarks>
/// A detail reaches tenants (problem bodies, a job's <c>error_detail</c>, a machine's error), so it
/// is a fixed sentence: a hypervisor's own message or an exception's text (which can name host
/// paths) goes only into <see cref="Error.Cause"/>, which the server logs with the correlation id
/// and never sends. A driver's <see cref="DriverMachine.Error"/> texts are fixed sentences too.
/// </remarks>
public static class DriverErrors
{
    public static Error MachineNotFound(string id) => new("machine-not-found", ErrorKind.NotFound, $"The fabric has no machine '{id}'.");

    public static Error InvalidState(string id, DriverMachineState state, string action) =>
        new("invalid-state", ErrorKind.Conflict, $"Machine '{id}' is {state.ToString().ToLowerInvariant()}; it cannot {action}.");

    public static Error HostUnavailable(string host) => new("host-unavailable", ErrorKind.Conflict, $"Host '{host}' is not available.");

    public static Error UnknownHost(string host) => new("unknown-host", ErrorKind.NotFound, $"The fabric has no host '{host}'.");

    public static Error Unsupported(string what) => new("unsupported", ErrorKind.Conflict, $"This compute fabric does not support {what}.");

    /// <summary>The machine has no graphical display (<see cref="IMachineDisplay"/>) to open.</summary>
    public static Error NoDisplay(string id) =>
        new("no-display", ErrorKind.Conflict,
            $"Machine '{id}' has no display: only machines created with the property display=vnc, on a fabric that gives machines displays, have a console.");

    /// <summary>
    /// The hypervisor could not do what was asked. The detail is the fixed sentence of
    /// <paramref name="failure"/> (with <paramref name="within"/>, the time it was given, where it
    /// has one); <paramref name="cause"/>, the hypervisor's own account, travels only in <see cref="Error.Cause"/>.
    /// </summary>
    public static Error HypervisorFailed(string machineId, HypervisorFailure failure, string cause, TimeSpan? within = null) =>
        new("hypervisor-error", ErrorKind.Conflict, $"Machine '{machineId}': {Describe(failure, within)}") { Cause = cause };

    private static string Describe(HypervisorFailure failure, TimeSpan? within)
    {
        var seconds = within is { } w ? string.Create(CultureInfo.InvariantCulture, $" within {w.TotalSeconds:0} s") : "";
        return failure switch
        {
            HypervisorFailure.Launch => "the machine could not be launched.",
            HypervisorFailure.Disk => "its disk could not be prepared.",
            HypervisorFailure.DiskCopy => "its disk could not be copied.",
            HypervisorFailure.NotReady => $"the guest did not report ready{seconds}.",
            HypervisorFailure.Command => "the hypervisor refused a command.",
            HypervisorFailure.Migration => "the migration failed; the machine stays where it was.",
            HypervisorFailure.IncomingMigration => "the destination could not be made ready for the migration; the machine stays where it was.",
            HypervisorFailure.DeviceNotReleased => $"the guest did not release a device{seconds}; stop the machine and try again.",
            HypervisorFailure.NoDeviceSlot => "all its device slots are taken while it runs; stop it to add the device.",
            _ => "the hypervisor could not complete the operation.",
        };
    }
}

/// <summary>
/// The driver of one host pool: the hosts it serves and the machines on them. The simulated
/// driver and the QEMU driver implement it with the same states and the same errors
/// (<see cref="DriverErrors"/>). Operations are idempotent on the machine id: after a crash the
/// Service Manager may repeat any of them, and must get the machine's current state rather than a
/// failure. Welkin calls a driver only for machines placed on its hosts.
/// </summary>
/// <remarks>
/// To add a driver:
/// <list type="number">
/// <item>Implement this interface in a project of its own that references Welkin.Core only; keep
/// the per-machine bookkeeping in Core's machine table; implement <see cref="IMachineDiskExport"/>
/// when machines have disks that can be copied out.</item>
/// <item>Run the shared conformance suite (<c>ComputeDriverConformanceTests</c>) against it from a
/// test class of its own; say what it cannot do through <see cref="Capabilities"/>.</item>
/// <item>Register it in the server: one entry in <c>FabricSetup</c>'s table of drivers, a factory
/// from the pool's declaration (its name, settings section and default directory) to the driver.</item>
/// </list>
/// An operator then declares a host pool of it: <c>Fabric:Pools:&lt;pool&gt;:Driver=&lt;driver&gt;</c>,
/// with the driver's own settings and the pool's <c>Labels</c> (region, jurisdiction, …) beside it;
/// the pool's host names must be unique across pools. The <see cref="ComputeFabric"/> made of the
/// pools owns and disposes the drivers; placement chooses among the hosts of all of them.
/// </remarks>
public interface IComputeDriver : IComputeFabric
{
    DriverCapabilities Capabilities { get; }

    /// <summary>Fabric events (host failures, crashes); the Service Manager reads them for as long as it runs.</summary>
    ChannelReader<DriverEvent> Events { get; }

    /// <summary>
    /// Creates the machine on <see cref="MachineSpec.Host"/>, deploys its image, makes its data disks (<see cref="MachineSpec.DataDisks"/>,
    /// attached after the system disk, before its volumes) and boots it; returns when it runs. Data disks that break
    /// <see cref="Compute.DataDisks.Check"/> give a validation error; a driver without <see cref="DriverCapabilities.DataDisks"/>
    /// answers <c>unsupported</c> for a machine with data disks; a data disk's image that cannot be used gives <c>image-unavailable</c>.
    /// </summary>
    Task<Result<DriverMachine>> CreateAsync(MachineSpec spec, IProgress<int>? progress, CancellationToken ct);

    Task<Result<DriverMachine>> StartAsync(string machineId, CancellationToken ct);

    /// <summary>ACPI power-down, or an immediate stop when <paramref name="force"/>.</summary>
    Task<Result<DriverMachine>> StopAsync(string machineId, bool force, CancellationToken ct);

    Task<Result<DriverMachine>> PauseAsync(string machineId, CancellationToken ct);

    Task<Result<DriverMachine>> ResumeAsync(string machineId, CancellationToken ct);

    Task<Result<DriverMachine>> RebootAsync(string machineId, CancellationToken ct);

    /// <summary>Changes vCPUs and memory; a stopped machine takes them at its next start.</summary>
    Task<Result<DriverMachine>> ResizeAsync(string machineId, int vcpus, long memoryMiB, CancellationToken ct);

    /// <summary>
    /// Moves the machine to another host of the fabric: cold when it is stopped (it starts on the
    /// target next time), live when it runs or is paused (<see cref="DriverCapabilities.LiveMigration"/>:
    /// the guest keeps running and ends up on the target in the state it had). Moving to the host it
    /// is on changes nothing. Errors: <c>unknown-host</c>, <c>host-unavailable</c> (failed or full),
    /// <c>invalid-state</c> (being created), <c>unsupported</c> (a live move without the capability).
    /// </summary>
    Task<Result<DriverMachine>> MigrateAsync(string machineId, string targetHost, IProgress<int>? progress, CancellationToken ct);

    /// <summary>Destroys the machine, its disk and its data disks. Destroying a machine that does not exist succeeds.</summary>
    Task<Result<bool>> DestroyAsync(string machineId, CancellationToken ct);

    /// <summary>The machine's current state, or null when the fabric has no such machine.</summary>
    Task<DriverMachine?> InspectAsync(string machineId, CancellationToken ct);

    /// <summary>The tail of the serial console, at most <paramref name="maxBytes"/> bytes.</summary>
    Task<Result<string>> ConsoleLogAsync(string machineId, int maxBytes, CancellationToken ct);

    Task<Result<MachineMetrics>> MetricsAsync(string machineId, CancellationToken ct);

    Task<Result<bool>> AttachVolumeAsync(string machineId, VolumeAttachment volume, CancellationToken ct);

    Task<Result<bool>> DetachVolumeAsync(string machineId, string volumeId, CancellationToken ct);

    /// <summary>
    /// Removes the fabric's storage of a volume Welkin deleted (its data is gone). A volume the
    /// fabric never stored succeeds; one still attached to a machine gives <c>invalid-state</c>.
    /// </summary>
    Task<Result<bool>> DeleteVolumeAsync(string volumeId, CancellationToken ct);

    Task<Result<bool>> ConnectNetworkAsync(string machineId, NetworkAttachment nic, CancellationToken ct);

    Task<Result<bool>> DisconnectNetworkAsync(string machineId, string networkId, CancellationToken ct);

    /// <summary>Applies configuration properties to a running guest (where <see cref="DriverCapabilities.LiveProperties"/>).</summary>
    Task<Result<bool>> SetPropertiesAsync(string machineId, IReadOnlyDictionary<string, string> properties, CancellationToken ct);

    /// <summary>
    /// After Welkin restarts: re-attaches to the machines it believes exist (re-creating the
    /// driver's own bookkeeping) and returns what the fabric really has; a machine missing from
    /// the answer is lost.
    /// </summary>
    Task<IReadOnlyList<DriverMachine>> RecoverAsync(IReadOnlyList<KnownMachine> known, CancellationToken ct);

    /// <summary>Fails a host or brings it back (<see cref="DriverCapabilities.FailureInjection"/>): its machines go to error and an event is raised.</summary>
    Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct);
}

/// <summary>
/// A driver whose machines have real disks that can be copied out (OVA export, moving a machine).
/// The simulated fabric has no disk contents and does not implement it.
/// </summary>
public interface IMachineDiskExport
{
    /// <summary>
    /// Writes a standalone qcow2 copy of the machine's system disk (its overlay flattened onto its
    /// base image) to <paramref name="destinationPath"/>. The machine must be stopped, so the copy
    /// is consistent: otherwise <c>invalid-state</c>; an unknown machine gives <c>machine-not-found</c>.
    /// </summary>
    Task<Result<bool>> ExportDiskAsync(string machineId, string destinationPath, CancellationToken ct);

    /// <summary>
    /// Writes a standalone qcow2 copy of one of the machine's data disks (<see cref="DataDisk.Device"/>), as
    /// <see cref="ExportDiskAsync"/> does the system disk, with the same errors; a device that is no data disk of the
    /// machine gives <c>not-found</c>.
    /// </summary>
    Task<Result<bool>> ExportDataDiskAsync(string machineId, string device, string destinationPath, CancellationToken ct);
}

/// <summary>
/// A driver whose machines may have a graphical display (a VNC server, spoken in the RFB protocol), which a person
/// reaches through the API's console WebSocket (<c>GET /api/v1/machines/{id}/console/vnc</c>). Optional, like
/// <see cref="IMachineDiskExport"/>: a driver without it has no displays, and the API answers <c>no-display</c>
/// (the simulated fabric; a peer pool, whose machines' displays are the peer cloud's).
/// </summary>
public interface IMachineDisplay
{
    /// <summary>
    /// Opens a byte stream to the display of a running (or paused) machine: the RFB protocol from its first byte,
    /// the server's version banner. The caller owns the stream. Errors: <c>machine-not-found</c>, <c>no-display</c>
    /// (the machine was made without one), <c>invalid-state</c> (not running), <c>hypervisor-error</c> (the display
    /// did not answer).
    /// </summary>
    Task<Result<Stream>> OpenDisplayAsync(string machineId, CancellationToken ct);
}
