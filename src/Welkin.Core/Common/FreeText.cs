namespace Welkin.Core.Common;

/// <summary>
/// The one rule for text a caller sends (names, descriptions, reasons): no control characters and
/// no bidirectional formatting characters, which would let a stored name hide or reorder what an
/// operator reads in a table, a log line or an invoice (the "Trojan Source" trick, CVE-2021-42574).
/// Tab, line feed and carriage return are allowed in multi-line text only.
/// </summary>
public static class FreeText
{
    public const string Rule = "must not contain control characters (such as NUL) or bidirectional formatting characters (U+202A-U+202E, U+2066-U+2069)";

    public static bool IsRefused(char c, bool multiline) =>
        (char.IsControl(c) && !(multiline && c is '\t' or '\n' or '\r'))
        || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    public static bool IsClean(string text, bool multiline) => !text.Any(c => IsRefused(c, multiline));
}
