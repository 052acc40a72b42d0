namespace Welkin.Contracts;

/// <summary>
/// A peer cloud asks this cloud to receive one of its running machines live (<c>POST /api/v1/machines/incoming</c>,
/// under an agreement's credential): the machine is placed like a provision of the contract line
/// (<paramref name="ContractId"/>, <paramref name="Item"/>, one machine of <paramref name="VirtualSystem"/> with these
/// sizes), made with empty disks of the source's sizes, and waits for its disks and state over TLS.
/// </summary>
/// <param name="Item">The contract line; null for its first compute line.</param>
/// <param name="Disks">The disks that move: <c>root</c> (the system disk) and their virtual sizes in bytes.</param>
/// <param name="Running">Whether the guest runs at the source (a paused one arrives paused).</param>
/// <param name="Hypervisor">The source hypervisor's settings the destination reproduces (opaque: for example <c>qemu.subnet</c>).</param>
public sealed record IncomingMachineRequest(
    string ContractId, string VirtualSystem, int Vcpus, long MemoryMiB, long DiskGiB, IReadOnlyList<IncomingDisk> Disks, bool Running,
    int? Item = null, string? OperatingSystem = null, IReadOnlyDictionary<string, string>? Hypervisor = null, string? Name = null);

/// <summary>A disk of an incoming machine: <c>root</c>, and its virtual size in bytes.</summary>
public sealed record IncomingDisk(string Id, long VirtualSizeBytes);

/// <summary>
/// A machine prepared to arrive: its id and instance here, and where the source sends it: the disk server's port
/// (one export name per disk id) and the migration port, both on <paramref name="Address"/>, both TLS with the
/// federation's certificates verified on both ends. The machine is <c>provisioning</c> (not billed) until
/// <c>POST /api/v1/machines/incoming/{id}/complete</c>.
/// </summary>
public sealed record IncomingMachineView(
    string MachineId, string InstanceId, MachineState State, string Address, int DiskPort, int MigrationPort, IReadOnlyDictionary<string, string> Exports);
