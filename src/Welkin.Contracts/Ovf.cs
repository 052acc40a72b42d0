namespace Welkin.Contracts;

/// <summary>What an OVF import made: a draft template and one qcow2 image per disk of the package.</summary>
public sealed record OvfImportResult(TemplateView Template, IReadOnlyList<ImageView> Images);

public static class OvfExportHeaders
{
    /// <summary>
    /// Where an exported OVA's disks came from: <c>machine-disk</c> (the machine's own disk, copied by
    /// the compute driver), <c>image</c> (the image it was made from) or <c>none</c>.
    /// </summary>
    public const string DiskSource = "Welkin-Disk-Source";

    public const string OvaMediaType = "application/x-tar";
}
