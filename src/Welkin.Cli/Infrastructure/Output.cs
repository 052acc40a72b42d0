using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Welkin.Contracts;

namespace Welkin.Cli.Infrastructure;

internal enum OutputFormat
{
    Table,
    Json,
    Yaml,
    Value,
}

/// <summary>One column of a table: its header and how to render a row's cell.</summary>
internal sealed record Column<T>(string Header, Func<T, string?> Value);

/// <summary>
/// Writes command results: aligned tables and field lists for people; for programs the response
/// document (<c>--output json</c>), it as YAML (<c>yaml</c>) or chosen fields, a line per result (<c>value</c>).
/// </summary>
internal sealed class Output(TextWriter writer)
{
    private static readonly JsonSerializerOptions Indented = new(WelkinJson.Client) { WriteIndented = true };

    public TextWriter Writer => writer;

    public void Json<T>(T value) => writer.WriteLine(JsonSerializer.Serialize(value, Indented));

    /// <summary>Writes a result in one of the formats for programs.</summary>
    public void Document<T>(T value, OutputFormat format, IReadOnlyList<string> columns)
    {
        switch (format)
        {
            case OutputFormat.Yaml:
                writer.Write(Documents.Yaml(JsonSerializer.SerializeToElement(value, WelkinJson.Client)));
                break;
            case OutputFormat.Value:
                Values(value, columns);
                break;
            default:
                Json(value);
                break;
        }
    }

    /// <summary>The chosen fields of the result, or of each element when it is a list, a line each.</summary>
    public void Values<T>(T value, IReadOnlyList<string> columns)
    {
        var info = WelkinJson.Client.GetTypeInfo(typeof(T));
        var list = info.Kind == JsonTypeInfoKind.Enumerable;
        var fields = Documents.Fields(list ? info.ElementType! : typeof(T), columns);
        var document = JsonSerializer.SerializeToElement(value, WelkinJson.Client);
        foreach (var row in list ? document.EnumerateArray().ToList() : [document])
        {
            writer.WriteLine(Documents.Line(row, fields));
        }
    }

    public void Table<T>(IEnumerable<T> rows, string empty, params Column<T>[] columns)
    {
        var cells = rows.Select(r => columns.Select(c => Clean(c.Value(r))).ToArray()).ToList();
        if (cells.Count == 0)
        {
            writer.WriteLine(empty);
            return;
        }
        var headers = columns.Select(c => c.Header.ToUpperInvariant()).ToArray();
        var widths = headers.Select((h, i) => Math.Max(h.Length, cells.Max(row => row[i].Length))).ToArray();
        WriteRow(headers, widths);
        foreach (var row in cells)
        {
            WriteRow(row, widths);
        }
    }

    /// <summary>Writes "Label:  value" lines with the values aligned; null values are skipped.</summary>
    public void Fields(params (string Label, string? Value)[] fields)
    {
        var shown = fields.Where(f => f.Value is not null).ToList();
        var width = shown.Count == 0 ? 0 : shown.Max(f => f.Label.Length) + 1;
        foreach (var (label, value) in shown)
        {
            writer.WriteLine((label + ":").PadRight(width) + "  " + Clean(value));
        }
    }

    public void Line(string text = "") => writer.WriteLine(text);

    private void WriteRow(string[] row, int[] widths)
    {
        var parts = row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]));
        writer.WriteLine(string.Join("  ", parts).TrimEnd());
    }

    // Server data goes to a terminal: drop control characters so a name cannot move the cursor or recolour the screen.
    private static string Clean(string? value) =>
        string.IsNullOrEmpty(value) ? "-" : new string(value.Select(c => char.IsControl(c) ? ' ' : c).ToArray());
}

/// <summary>Renders values for tables.</summary>
internal static class Fmt
{
    public static string Time(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string? Time(DateTimeOffset? value) => value is { } v ? Time(v) : null;

    public static string Name<TEnum>(TEnum value) where TEnum : struct, Enum => WireNames.Of(value);

    public static string? Name<TEnum>(TEnum? value) where TEnum : struct, Enum => value is { } v ? Name(v) : null;

    public static string List(IEnumerable<string>? values) => values is null ? "" : string.Join(", ", values);

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string? Number(long? value) => value?.ToString(CultureInfo.InvariantCulture);

    public static string Number(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Limits(IReadOnlyDictionary<string, long> limits) =>
        limits.Count == 0 ? "none" : string.Join(", ", limits.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={Number(l.Value)}"));

    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : value.ToString("0.#", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    public static string Choice<T>(Choice<T>? choice) =>
        choice is null ? "" : choice.Allowed.Count == 1 ? Convert.ToString(choice.Default, CultureInfo.InvariantCulture) ?? ""
            : string.Join("|", choice.Allowed.Select(a => Convert.ToString(a, CultureInfo.InvariantCulture))) + $" (default {Convert.ToString(choice.Default, CultureInfo.InvariantCulture)})";
}
