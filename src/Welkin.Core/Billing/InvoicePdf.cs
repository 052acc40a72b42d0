using PdfSharp.Drawing;
using PdfSharp.Pdf;
using Welkin.Contracts;
using Welkin.Core.Common;

namespace Welkin.Core.Billing;

/// <summary>
/// The invoice as a PDF document: A4 with 15 mm margins, the same information in the same order as
/// <see cref="InvoiceHtml"/>, one table per contract whose head repeats on every page it runs on,
/// no row split across pages, a contract's heading kept with its first line, the totals on one
/// page, and "page N of M" at the foot of every page.
/// </summary>
public static class InvoicePdf
{
    public const string ContentType = "application/pdf";

    public static Result<byte[]> Render(InvoiceView invoice)
    {
        if (InvoiceFonts.Missing() is { } missing)
        {
            return new Error("pdf-unavailable", ErrorKind.Unavailable,
                "PDF invoices are not available on this server: the font DejaVu Sans (package fonts-dejavu-core) is not installed.")
            {
                Cause = $"font file {missing} not found",
            };
        }
        InvoiceFonts.Install();
        using var document = new PdfDocument();
        document.Info.Title = InvoiceHtml.Title(invoice);
        document.Info.Creator = "Welkin";
        using (var layout = new InvoicePdfLayout(document))
        {
            layout.Write(invoice);
        }
        using var stream = new MemoryStream();
        document.Save(stream, closeStream: false);
        return stream.ToArray();
    }
}

/// <summary>Lays an invoice out on pages from top to bottom, starting a page when the next block does not fit.</summary>
internal sealed class InvoicePdfLayout(PdfDocument document) : IDisposable
{
    private const double Margin = 15 / 25.4 * 72; // 15 mm in points
    private const double Padding = 3;
    private const double FooterHeight = 14;

    private readonly XFont Body = new(InvoiceFonts.Family, 9);
    private readonly XFont BodyBold = new(InvoiceFonts.Family, 9, XFontStyleEx.Bold);
    private readonly XFont Heading = new(InvoiceFonts.Family, 12, XFontStyleEx.Bold);
    private readonly XFont TitleFont = new(InvoiceFonts.Family, 16, XFontStyleEx.Bold);
    private readonly XFont Footer = new(InvoiceFonts.Family, 8);
    private static readonly XPen Rule = new(XColor.FromArgb(204, 204, 204), 0.5);
    private static readonly XPen StrongRule = new(XColors.Black, 1);

    // Line, description, plan, quantity, metric, rate, amount: 510 pt, the width of A4 inside the margins.
    private static readonly Column[] LineColumns =
    [
        new("Line", 66), new("Description", 116), new("Plan", 30), new("Quantity", 52, Right: true),
        new("Metric", 86), new("Rate", 100, Right: true), new("Amount", 60, Right: true),
    ];

    private static readonly Column[] TotalColumns =
    [
        new("Currency", 120), new("Charges", 130, Right: true), new("SLA credits", 130, Right: true), new("Total due", 130, Right: true),
    ];

    private XGraphics? _graphics;
    private double _y;

    private sealed record Column(string Name, double Width, bool Right = false);

    private XGraphics Graphics => _graphics ?? NewPage();

    private double Width => Graphics.PageSize.Width - 2 * Margin;

    private double Bottom => Graphics.PageSize.Height - Margin - FooterHeight;

    public void Write(InvoiceView invoice)
    {
        Parties(invoice);
        Text(InvoiceHtml.Title(invoice), TitleFont, Margin, Width);
        _y += 4;
        foreach (var (name, value) in InvoiceHtml.DetailRows(invoice))
        {
            Row([name, value], [new Column(name, 110), new Column(value, Width - 110)], [BodyBold, Body], Rule);
        }

        var names = (invoice.Contracts ?? []).ToDictionary(c => c.Id, c => c.Name, StringComparer.Ordinal);
        foreach (var contract in invoice.Lines.GroupBy(l => l.ContractId, StringComparer.Ordinal))
        {
            var name = names.GetValueOrDefault(contract.Key);
            Contract("Contract " + (name is null ? contract.Key : $"{name} ({contract.Key})"), [.. contract.Select(Cells)]);
        }
        if (invoice.Lines.Count == 0)
        {
            _y += 8;
            Text("No charges in this period.", Body, Margin, Width);
        }
        Totals(invoice);
        PageNumbers(InvoiceHtml.Title(invoice));
    }

    public void Dispose() => _graphics?.Dispose();

    private static string[] Cells(InvoiceLineView l) =>
    [
        l.Item is { } item ? $"{item}: {l.Offering}" : "", l.Description, l.PlanVersion is { } v ? $"v{v}" : "",
        InvoiceHtml.Quantity(l.Quantity), l.MetricName ?? l.Unit ?? "", InvoiceHtml.Rate(l), InvoiceHtml.Amount(l.Amount, l.Currency),
    ];

    private void Parties(InvoiceView invoice)
    {
        var half = Width / 2;
        var top = _y;
        var left = top;
        if (invoice.Provider is { } provider)
        {
            left = Lines([provider.Name], BodyBold, Margin, top, half - 10);
            left = Lines(AddressLines(provider.Address), Body, Margin, left, half - 10);
        }
        var billTo = invoice.BillTo;
        var right = Lines(["Bill to"], BodyBold, Margin + half, top, half);
        right = Lines([billTo?.Name ?? invoice.AccountId, .. AddressLines(billTo?.Address),
            "Account " + (billTo?.AccountName is { } shortName ? $"{shortName} ({invoice.AccountId})" : invoice.AccountId)], Body, Margin + half, right, half);
        _y = Math.Max(left, right) + 16;
    }

    private static string[] AddressLines(string? address) => address?.Split('\n') ?? [];

    private void Contract(string heading, List<string[]> rows)
    {
        var fonts = Enumerable.Repeat(Body, LineColumns.Length).ToArray();
        var headingHeight = 14 + Heading.Height * 1.2;
        if (_y + headingHeight + RowHeight(Names(LineColumns), LineColumns, BodyBold) + RowHeight(rows[0], LineColumns, Body) > Bottom)
        {
            NewPage();
        }
        ContractHead(heading);
        foreach (var cells in rows)
        {
            if (_y + RowHeight(cells, LineColumns, Body) > Bottom)
            {
                NewPage();
                ContractHead(heading + " (continued)");
            }
            Row(cells, LineColumns, fonts, Rule);
        }
    }

    private void ContractHead(string heading)
    {
        _y += 14;
        Text(heading, Heading, Margin, Width);
        _y += 2;
        Row(Names(LineColumns), LineColumns, Enumerable.Repeat(BodyBold, LineColumns.Length).ToArray(), StrongRule);
    }

    private void Totals(InvoiceView invoice)
    {
        var rows = invoice.Totals.Select(t => new[]
        {
            t.Currency, InvoiceHtml.Amount(t.Charges, t.Currency), InvoiceHtml.Amount(t.Credits, t.Currency), InvoiceHtml.Amount(t.Total, t.Currency),
        }).ToList();
        var notes = new List<string>();
        if (invoice.DueDate is { } due)
        {
            notes.Add($"Payment due by {InvoiceHtml.Date(due)}" + (invoice.PaymentTermsDays is { } days ? $" ({days} days net)." : "."));
        }
        notes.Add("Amounts are rounded half-even to the cent per line; totals are sums of the rounded lines.");

        var height = 14 + Heading.Height * 1.2 + RowHeight(Names(TotalColumns), TotalColumns, BodyBold)
            + rows.Sum(r => RowHeight(r, TotalColumns, BodyBold)) + 6 + notes.Sum(n => Wrap(n, Body, Width).Count * LineHeight(Body));
        if (_y + height > Bottom)
        {
            NewPage();
        }
        _y += 14;
        Text("Totals (tax-free)", Heading, Margin, Width);
        _y += 2;
        var bold = Enumerable.Repeat(BodyBold, TotalColumns.Length).ToArray();
        Row(Names(TotalColumns), TotalColumns, bold, StrongRule);
        foreach (var row in rows)
        {
            Row(row, TotalColumns, bold, StrongRule);
        }
        _y += 6;
        foreach (var note in notes)
        {
            Text(note, Body, Margin, Width);
        }
    }

    private void PageNumbers(string title)
    {
        _graphics?.Dispose();
        _graphics = null;
        var count = document.PageCount;
        for (var i = 0; i < count; i++)
        {
            var page = document.Pages[i];
            using var graphics = XGraphics.FromPdfPage(page, XGraphicsPdfPageOptions.Append);
            var box = new XRect(Margin, page.Height.Point - Margin - FooterHeight, page.Width.Point - 2 * Margin, FooterHeight);
            graphics.DrawString($"{title} — page {i + 1} of {count}", Footer, XBrushes.Gray, box, XStringFormats.BottomRight);
        }
    }

    private static string[] Names(Column[] columns) => [.. columns.Select(c => c.Name)];

    private double RowHeight(string[] cells, Column[] columns, XFont font) =>
        cells.Select((cell, i) => Wrap(cell, font, columns[i].Width - 2 * Padding).Count).Max() * LineHeight(font) + 2 * Padding;

    /// <summary>One table row; cells wrap within their column and the row is as tall as its tallest cell.</summary>
    private void Row(string[] cells, Column[] columns, XFont[] fonts, XPen rule)
    {
        var x = Margin;
        var bottom = _y;
        for (var i = 0; i < cells.Length; i++)
        {
            var lines = Wrap(cells[i], fonts[i], columns[i].Width - 2 * Padding);
            var y = _y + Padding;
            foreach (var line in lines)
            {
                var box = new XRect(x + Padding, y, columns[i].Width - 2 * Padding, LineHeight(fonts[i]));
                Graphics.DrawString(line, fonts[i], XBrushes.Black, box, columns[i].Right ? XStringFormats.TopRight : XStringFormats.TopLeft);
                y += LineHeight(fonts[i]);
            }
            bottom = Math.Max(bottom, y + Padding);
            x += columns[i].Width;
        }
        Graphics.DrawLine(rule, Margin, bottom, Margin + columns.Sum(c => c.Width), bottom);
        _y = bottom;
    }

    private void Text(string text, XFont font, double x, double width) =>
        _y = Lines(Wrap(text, font, width), font, x, _y, width);

    /// <summary>Draws lines from <paramref name="top"/> down; returns where the next line starts.</summary>
    private double Lines(IEnumerable<string> lines, XFont font, double x, double top, double width)
    {
        foreach (var line in lines.SelectMany(l => Wrap(l, font, width)))
        {
            Graphics.DrawString(line, font, XBrushes.Black, new XRect(x, top, width, LineHeight(font)), XStringFormats.TopLeft);
            top += LineHeight(font);
        }
        return top;
    }

    private static double LineHeight(XFont font) => font.Height * 1.2;

    /// <summary>Breaks text into lines no wider than <paramref name="width"/>: at line breaks, then spaces, then inside a word too long for a line.</summary>
    private List<string> Wrap(string text, XFont font, double width)
    {
        var lines = new List<string>();
        foreach (var paragraph in text.Split('\n'))
        {
            var line = "";
            foreach (var word in paragraph.Split(' '))
            {
                var candidate = line.Length == 0 ? word : line + " " + word;
                if (line.Length > 0 && Measure(candidate, font) > width)
                {
                    lines.Add(line);
                    candidate = word;
                }
                line = candidate;
                while (line.Length > 1 && Measure(line, font) > width)
                {
                    var cut = line.Length - 1;
                    while (cut > 1 && Measure(line[..cut], font) > width)
                    {
                        cut--;
                    }
                    lines.Add(line[..cut]);
                    line = line[cut..];
                }
            }
            lines.Add(line);
        }
        return lines;
    }

    private double Measure(string text, XFont font) => Graphics.MeasureString(text, font).Width;

    private XGraphics NewPage()
    {
        _graphics?.Dispose();
        var page = document.AddPage();
        page.Size = PdfSharp.PageSize.A4;
        _graphics = XGraphics.FromPdfPage(page);
        _y = Margin;
        return _graphics;
    }
}
