namespace Welkin.Contracts;

/// <summary>
/// A machine's OVA kept by the cloud for a resumable download (<c>/api/v1/machines/{id}/package</c>): written
/// once, with its SHA-256, from the machine as it was at <paramref name="MachineVersion"/>; its content is served
/// with byte ranges (RFC 9110 14) under the entity tag of its digest, and deleted at <paramref name="Expires"/>.
/// </summary>
/// <param name="DiskSource">Where its disk came from, as the export's <see cref="OvfExportHeaders.DiskSource"/> header says.</param>
public sealed record MachinePackageView(
    string MachineId,
    string AccountId,
    long MachineVersion,
    long SizeBytes,
    string Sha256,
    string DiskSource,
    DateTimeOffset Created,
    DateTimeOffset Expires);

public static class MachinePackageHeaders
{
    /// <summary>The content's digest (RFC 9530): <c>sha-256=:BASE64:</c>, of the whole package whatever range is sent.</summary>
    public const string ReprDigest = "Repr-Digest";
}
