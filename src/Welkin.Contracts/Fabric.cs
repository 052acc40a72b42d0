namespace Welkin.Contracts;

/// <param name="Fabric">The kind of driver serving the host ("simulated", "qemu").</param>
/// <param name="Pool">The host pool the host belongs to.</param>
public sealed record HostView(string Name, string Region, string Jurisdiction, int Cores, long MemoryMiB, long DiskGiB, string Fabric, string? Pool = null);
