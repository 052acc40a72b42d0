namespace Welkin.Contracts;

public sealed record HostView(string Name, string Region, string Jurisdiction, int Cores, long MemoryMiB, long DiskGiB, string Fabric);
