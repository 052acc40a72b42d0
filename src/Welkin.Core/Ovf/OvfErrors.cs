using Welkin.Core.Common;

namespace Welkin.Core.Ovf;

public static class OvfErrors
{
    public static Error Malformed(string detail) => new("ovf-malformed", ErrorKind.Validation, detail);

    public static Error DtdProhibited() =>
        new("ovf-dtd-prohibited", ErrorKind.Validation, "The document contains a DTD (<!DOCTYPE>); OVF envelopes must not declare DTDs or entities.");

    public static Error UnknownNamespace(string element, string ns, string? hint = null) =>
        new("ovf-unknown-namespace", ErrorKind.Validation,
            $"The root element <{element}> is in namespace '{Truncate(ns)}', not an OVF envelope namespace (http://schemas.dmtf.org/ovf/envelope/1 or /2).{(hint is null ? "" : " " + hint)}");

    public static Error TooDeep(int max, int line) =>
        new("ovf-too-deep", ErrorKind.Validation, $"The OVF envelope nests elements more than {max} deep (line {line}); a descriptor needs far fewer levels.");

    public static Error Missing(string detail) => new("ovf-invalid", ErrorKind.Validation, detail);

    public static Error TooLarge(string what, long max) =>
        new("ovf-too-large", ErrorKind.PayloadTooLarge, $"{what} is larger than the limit of {max} bytes.");

    public static Error UnsafeEntry(string name, string why) =>
        new("ova-unsafe-entry", ErrorKind.Validation, $"The OVA entry '{Truncate(name)}' is refused: {why}.");

    public static Error BadPackage(string detail) => new("ova-invalid", ErrorKind.Validation, detail);

    public static Error ManifestInvalid(int line, string detail) =>
        new("ovf-manifest-invalid", ErrorKind.Validation, $"Manifest line {line}: {detail}");

    public static Error DigestMismatch(string file, string algorithm) =>
        new("ovf-digest-mismatch", ErrorKind.Validation, $"The {algorithm} digest of '{Truncate(file)}' does not match the manifest.");

    public static Error Unmappable(string detail) => new("ovf-unmappable", ErrorKind.Validation, detail);

    public static Error BadDisk(string name, string why) =>
        new("ovf-disk-refused", ErrorKind.Validation, $"Disk '{Truncate(name)}' is refused: {why}.");

    private static string Truncate(string s) => s.Length <= 100 ? s : s[..100] + "…";
}
