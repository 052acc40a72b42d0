using Welkin.Contracts;
using Welkin.Core.Billing;
using UglyToad.PdfPig;

namespace Welkin.Core.Tests.Billing;

/// <summary>The PDF rendering laid out over several A4 pages, read back as a reader extracts its words.</summary>
public sealed class InvoicePdfTests
{
    private const string Ctr = "ctr_01h00000000000000000000000";

    private static InvoiceView Invoice(int lines)
    {
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var rows = Enumerable.Range(1, lines).Select(i => new InvoiceLineView(
            InvoiceLineKind.Charge, Ctr, 0, "small", "cpu-hour", "hour", 1, "vcpu-ms", 3_600_000L * i, i, 0.13m, PricingModel.Flat,
            null, null, null, null, "USD", 0.13m * i, $"CPU hours, line {i}", "CPU hours")).ToList();
        var total = rows.Sum(l => l.Amount);
        return new InvoiceView("inv_01h00000000000000000000000", "acc_01h00000000000000000000000", "2026-11", InvoiceKind.Period, InvoiceState.Issued,
            start, start.AddMonths(1), start.AddMonths(1), rows, [new InvoiceTotalView("USD", total, 0m, total)], [], "prn_01h00000000000000000000000",
            start.AddMonths(1), "WK-2026-000042", new DateOnly(2026, 12, 1), new DateOnly(2026, 12, 31), 30,
            new InvoiceParty("Welkin Cloud", "1 Harbour Road\nPort Town"), new InvoiceParty("Acme Ltd", "7 Mill Lane", "acc_01h00000000000000000000000", "acme"),
            [new InvoiceContract(Ctr, "web shop")]);
    }

    private static List<string> Pages(byte[] pdf)
    {
        using var document = PdfDocument.Open(pdf);
        return [.. document.GetPages().Select(p => string.Join(' ', p.GetWords().Select(w => w.Text)))];
    }

    [Fact]
    public void Render_ManyLines_BreaksPagesRepeatingTheTableHeadAndNumbersEveryPage()
    {
        var invoice = Invoice(150);

        var result = InvoicePdf.Render(invoice);

        result.IsSuccess.ShouldBeTrue(result.Error?.Detail);
        var pages = Pages(result.Value);
        pages.Count.ShouldBeGreaterThan(2);
        for (var i = 0; i < pages.Count; i++)
        {
            pages[i].ShouldContain($"Invoice WK-2026-000042 — page {i + 1} of {pages.Count}");
        }
        pages[1].ShouldContain("page 2 of");
        foreach (var page in pages.Skip(1).SkipLast(1))
        {
            page.ShouldContain($"Contract web shop ({Ctr}) (continued)");
            page.ShouldContain("Line Description Plan Quantity Metric Rate Amount");
        }
        pages[0].ShouldContain("Due date 2026-12-31");
        pages.Count(p => p.Contains("CPU hours, line 150 ", StringComparison.Ordinal)).ShouldBe(1);
        pages.SelectMany(p => p.Split("CPU hours, line ").Skip(1)).Count().ShouldBe(150);
        pages[^1].ShouldContain($"Total due USD {invoice.Totals[0].Total:#,0.00} USD");
    }

    [Fact]
    public void Render_IsA4_AndKeepsEveryLetterInsideTheMargins()
    {
        using var document = PdfDocument.Open(InvoicePdf.Render(Invoice(60)).Value);

        foreach (var page in document.GetPages())
        {
            page.Width.ShouldBe(595, 1);
            page.Height.ShouldBe(842, 1);
            var margin = 15 / 25.4 * 72 - 0.5;
            page.Letters.ShouldAllBe(l => l.BoundingBox.Left >= margin && l.BoundingBox.Right <= page.Width - margin
                && l.BoundingBox.Bottom >= margin && l.BoundingBox.Top <= page.Height - margin);
        }
    }

    [Fact]
    public void Render_ANoChargesInvoice_IsOnePage()
    {
        var invoice = Invoice(0);

        var pages = Pages(InvoicePdf.Render(invoice).Value);

        pages.ShouldHaveSingleItem().ShouldContain("No charges in this period.");
        pages[0].ShouldContain("page 1 of 1");
    }
}
