namespace Welkin.Compute.Peer;

/// <summary>A host pool served by a peer cloud, configured under <c>Fabric:Pools:&lt;pool&gt;</c> with <c>Driver=peer</c>.</summary>
public sealed class PeerPoolOptions
{
    /// <summary>The peer's federation name (required): the pool uses this cloud's agreement in force with it.</summary>
    public string Peer { get; set; } = "";

    /// <summary>The pool's one host name; the pool's name when empty.</summary>
    public string? Host { get; set; }

    /// <summary>The most vCPUs the pool ever offers placement, whatever the agreement allows.</summary>
    public int Cores { get; set; } = 64;

    public long MemoryMiB { get; set; } = 262_144;

    public long DiskGiB { get; set; } = 4_096;

    /// <summary>How often the peer's machines are listed (one call for the pool) when no notification comes first.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failed calls to the peer after which its host counts as unreachable.</summary>
    public int FailuresBeforeUnreachable { get; set; } = 3;

    /// <summary>Bytes per chunk of a package uploaded to the peer (a machine moving there): a cut transfer resends at most one chunk.</summary>
    public int UploadChunkBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>The host's region when the pool has no <c>region</c> label.</summary>
    public string Region { get; set; } = "peer";

    /// <summary>The host's jurisdiction when the pool has no <c>jurisdiction</c> label (the agreement's policy names where the peer runs machines).</summary>
    public string Jurisdiction { get; set; } = "peer";
}
