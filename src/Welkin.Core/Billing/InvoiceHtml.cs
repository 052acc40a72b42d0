using System.Globalization;
using System.Net;
using System.Text;
using Welkin.Contracts;

namespace Welkin.Core.Billing;

/// <summary>
/// The printable rendering of an invoice: one self-contained HTML page with inline styles, no
/// script and no external resources. Every value from the invoice is HTML-encoded.
/// </summary>
public static class InvoiceHtml
{
    /// <summary>Sent with the page: nothing may run or load, only the inline style applies.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";

    public static string Render(InvoiceView invoice, string? accountName = null)
    {
        var html = new StringBuilder(4096);
        var title = $"Invoice {invoice.Id ?? "preview"} — {invoice.Period}";
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").Append(E(title)).Append("</title>\n")
            .Append("<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%;margin:1em 0}")
            .Append("th,td{border-bottom:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}")
            .Append("h2{margin-top:1.5em}.total td{font-weight:bold;border-top:2px solid #222}@media print{body{margin:0}}</style>\n</head>\n<body>\n");
        html.Append("<h1>").Append(E(title)).Append("</h1>\n<table>\n");
        Row(html, "Account", accountName is null ? invoice.AccountId : $"{accountName} ({invoice.AccountId})");
        Row(html, "Kind", WireNames.Of(invoice.Kind) + (invoice.State == InvoiceState.Preview ? " (preview, not issued)" : ""));
        Row(html, "Period", $"{Time(invoice.PeriodStart)} to {Time(invoice.PeriodEnd)}");
        if (invoice.RatedUntil < invoice.PeriodEnd)
        {
            Row(html, "Usage up to", Time(invoice.RatedUntil));
        }
        if (invoice.Issued is { } issued)
        {
            Row(html, "Issued", $"{Time(issued)} by {invoice.IssuedBy}");
        }
        html.Append("</table>\n");

        foreach (var contract in invoice.Lines.GroupBy(l => l.ContractId, StringComparer.Ordinal))
        {
            html.Append("<h2>Contract ").Append(E(contract.Key)).Append("</h2>\n<table>\n<thead><tr><th>Line</th><th>Description</th><th>Plan</th>")
                .Append("<th class=\"n\">Quantity</th><th>Unit</th><th class=\"n\">Unit price</th><th class=\"n\">Amount</th></tr></thead>\n<tbody>\n");
            foreach (var l in contract)
            {
                html.Append("<tr><td>").Append(E(l.Item is { } item ? $"{item}: {l.Offering}" : "")).Append("</td><td>").Append(E(l.Description))
                    .Append("</td><td>").Append(E(l.PlanVersion is { } v ? $"v{v}" : "")).Append("</td><td class=\"n\">").Append(E(Number(l.Quantity)))
                    .Append("</td><td>").Append(E(l.Unit ?? "")).Append("</td><td class=\"n\">").Append(E(Number(l.UnitPrice)))
                    .Append("</td><td class=\"n\">").Append(E(Amount(l.Amount, l.Currency))).Append("</td></tr>\n");
            }
            html.Append("</tbody>\n</table>\n");
        }
        if (invoice.Lines.Count == 0)
        {
            html.Append("<p>No charges in this period.</p>\n");
        }

        html.Append("<h2>Totals (tax-free)</h2>\n<table>\n<thead><tr><th>Currency</th><th class=\"n\">Charges</th><th class=\"n\">SLA credits</th><th class=\"n\">Total</th></tr></thead>\n<tbody>\n");
        foreach (var t in invoice.Totals)
        {
            html.Append("<tr class=\"total\"><td>").Append(E(t.Currency)).Append("</td><td class=\"n\">").Append(E(Amount(t.Charges, t.Currency)))
                .Append("</td><td class=\"n\">").Append(E(Amount(t.Credits, t.Currency))).Append("</td><td class=\"n\">").Append(E(Amount(t.Total, t.Currency)))
                .Append("</td></tr>\n");
        }
        html.Append("</tbody>\n</table>\n<p>Amounts are rounded half-even to the cent per line; totals are sums of the rounded lines.</p>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static void Row(StringBuilder html, string name, string value) =>
        html.Append("<tr><th>").Append(E(name)).Append("</th><td>").Append(E(value)).Append("</td></tr>\n");

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    private static string Number(decimal? d) => d is { } v ? v.ToString("#,0.######", CultureInfo.InvariantCulture) : "";

    private static string Amount(decimal d, string currency) => d.ToString("#,0.00", CultureInfo.InvariantCulture) + " " + currency;
}
