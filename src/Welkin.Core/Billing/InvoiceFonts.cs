using PdfSharp.Fonts;

namespace Welkin.Core.Billing;

/// <summary>
/// The typeface of invoice PDFs: DejaVu Sans Condensed (narrow enough for a seven-column table on A4), read from the system's font files (Debian package
/// fonts-dejavu-core, which scripts/install-deps.sh installs). PDFsharp 6 finds no fonts on Linux
/// by itself, and it embeds the glyphs it uses, so the reader needs no font of its own.
/// </summary>
internal sealed class InvoiceFonts : IFontResolver
{
    public const string Family = "DejaVu Sans Condensed";

    private const string Directory = "/usr/share/fonts/truetype/dejavu";
    private const string RegularFace = "DejaVuSansCondensed";
    private const string BoldFace = "DejaVuSansCondensed-Bold";

    private static readonly InvoiceFonts Instance = new();

    // PDFsharp takes one resolver per process, set before its first font operation; a later
    // setting must pass the same instance.
    private static readonly Lazy<bool> Installed = new(() =>
    {
        GlobalFontSettings.FontResolver = Instance;
        return true;
    });

    /// <summary>The first font file that is not there, or null when both faces are installed.</summary>
    public static string? Missing() =>
        new[] { RegularFace, BoldFace }.Select(FilePath).FirstOrDefault(path => !File.Exists(path));

    public static void Install() => _ = Installed.Value;

    public FontResolverInfo? ResolveTypeface(string familyName, bool bold, bool italic) => new(bold ? BoldFace : RegularFace);

    public byte[]? GetFont(string faceName) => File.ReadAllBytes(FilePath(faceName == BoldFace ? BoldFace : RegularFace));

    private static string FilePath(string face) => Path.Combine(Directory, face + ".ttf");
}
