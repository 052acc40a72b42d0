using System.Globalization;
using System.Net;
using System.Text;
using Welkin.Contracts;

namespace Welkin.Core.Billing;

/// <summary>
/// The printable rendering of an invoice: one self-contained HTML page with inline styles, no
/// script and no external resources. Every value from the invoice is HTML-encoded. Amounts have
/// two decimals and their currency; rates are written exactly as the price plan states them.
/// </summary>
public static class InvoiceHtml
{
    /// <summary>Sent with the page: nothing may run or load, only the inline style applies.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";

    // On paper: A4 with margins, table heads repeated on each page, a contract's heading kept with
    // its lines, no row split across pages, and the totals on one page.
    private const string Style =
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%;margin:1em 0}"
        + "th,td{border-bottom:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
        + "h2{margin-top:1.5em}.total td{font-weight:bold;border-top:2px solid #222}"
        + ".parties{display:flex;justify-content:space-between;gap:2em}.party{white-space:pre-line}"
        + "@media print{@page{size:A4;margin:15mm}body{margin:0;font-size:10pt}nav,.screen-only{display:none}"
        + "thead{display:table-header-group}tr{break-inside:avoid}h2{break-after:avoid}section.contract{break-before:auto}"
        + "section.totals{break-inside:avoid}a{color:inherit;text-decoration:none}}";

    public static string Render(InvoiceView invoice, string? accountName = null)
    {
        var html = new StringBuilder(8192);
        var title = Title(invoice);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").Append(E(title)).Append("</title>\n")
            .Append("<style>").Append(Style).Append("</style>\n</head>\n<body>\n");
        Parties(html, invoice, accountName);
        html.Append("<h1>").Append(E(title)).Append("</h1>\n<table class=\"details\">\n");
        Details(html, invoice, accountName);
        html.Append("</table>\n");

        var names = (invoice.Contracts ?? []).ToDictionary(c => c.Id, c => c.Name, StringComparer.Ordinal);
        foreach (var contract in invoice.Lines.GroupBy(l => l.ContractId, StringComparer.Ordinal))
        {
            var name = names.GetValueOrDefault(contract.Key);
            html.Append("<section class=\"contract\">\n<h2>Contract ").Append(E(name is null ? contract.Key : $"{name} ({contract.Key})")).Append("</h2>\n")
                .Append("<table>\n<thead><tr><th>Line</th><th>Description</th><th>Plan</th><th class=\"n\">Quantity</th><th>Metric</th>")
                .Append("<th class=\"n\">Rate</th><th class=\"n\">Amount</th></tr></thead>\n<tbody>\n");
            foreach (var l in contract)
            {
                html.Append("<tr><td>").Append(E(l.Item is { } item ? $"{item}: {l.Offering}" : "")).Append("</td><td>").Append(E(l.Description))
                    .Append("</td><td>").Append(E(l.PlanVersion is { } v ? $"v{v}" : "")).Append("</td><td class=\"n\">").Append(E(Quantity(l.Quantity)))
                    .Append("</td><td>").Append(E(l.MetricName ?? l.Unit ?? "")).Append("</td><td class=\"n\">").Append(E(Rate(l)))
                    .Append("</td><td class=\"n\">").Append(E(Amount(l.Amount, l.Currency))).Append("</td></tr>\n");
            }
            html.Append("</tbody>\n</table>\n</section>\n");
        }
        if (invoice.Lines.Count == 0)
        {
            html.Append("<p>No charges in this period.</p>\n");
        }

        html.Append("<section class=\"totals\">\n<h2>Totals (tax-free)</h2>\n<table>\n<thead><tr><th>Currency</th><th class=\"n\">Charges</th>")
            .Append("<th class=\"n\">SLA credits</th><th class=\"n\">Total due</th></tr></thead>\n<tbody>\n");
        foreach (var t in invoice.Totals)
        {
            html.Append("<tr class=\"total\"><td>").Append(E(t.Currency)).Append("</td><td class=\"n\">").Append(E(Amount(t.Charges, t.Currency)))
                .Append("</td><td class=\"n\">").Append(E(Amount(t.Credits, t.Currency))).Append("</td><td class=\"n\">").Append(E(Amount(t.Total, t.Currency)))
                .Append("</td></tr>\n");
        }
        html.Append("</tbody>\n</table>\n");
        if (invoice.DueDate is { } due)
        {
            html.Append("<p>Payment due by ").Append(E(Date(due))).Append(invoice.PaymentTermsDays is { } days ? E($" ({days} days net)") : "").Append(".</p>\n");
        }
        html.Append("<p>Amounts are rounded half-even to the cent per line; totals are sums of the rounded lines.</p>\n</section>\n</body>\n</html>\n");
        return html.ToString();
    }

    internal static string Title(InvoiceView invoice) =>
        invoice.Number is { } number ? $"Invoice {number}" : $"Invoice {invoice.Id ?? "preview"} — {invoice.Period}";

    private static void Parties(StringBuilder html, InvoiceView invoice, string? accountName)
    {
        html.Append("<div class=\"parties\">\n");
        if (invoice.Provider is { } provider)
        {
            html.Append("<div class=\"party provider\"><strong>").Append(E(provider.Name)).Append("</strong>");
            AddressLines(html, provider.Address);
            html.Append("</div>\n");
        }
        html.Append("<div class=\"party bill-to\"><strong>Bill to</strong>\n");
        var billTo = invoice.BillTo;
        html.Append(E(billTo?.Name ?? accountName ?? invoice.AccountId));
        AddressLines(html, billTo?.Address);
        html.Append("\nAccount ").Append(E(billTo?.AccountName is { } shortName ? $"{shortName} ({invoice.AccountId})" : invoice.AccountId)).Append("</div>\n</div>\n");
    }

    private static void Details(StringBuilder html, InvoiceView invoice, string? accountName)
    {
        foreach (var (name, value) in DetailRows(invoice, accountName))
        {
            Row(html, name, value);
        }
    }

    /// <summary>The invoice's particulars, named, in the order every rendering shows them.</summary>
    internal static List<(string Name, string Value)> DetailRows(InvoiceView invoice, string? accountName = null)
    {
        var rows = new List<(string, string)>();
        if (invoice.Number is { } number)
        {
            rows.Add(("Invoice number", number));
        }
        if (invoice.IssueDate is { } issueDate)
        {
            rows.Add(("Issue date", Date(issueDate)));
        }
        if (invoice.DueDate is { } dueDate)
        {
            rows.Add(("Due date", Date(dueDate)));
        }
        if (invoice.PaymentTermsDays is { } days)
        {
            rows.Add(("Payment terms", $"{days} days net"));
        }
        if (invoice.BillTo is null)
        {
            rows.Add(("Account", accountName is null ? invoice.AccountId : $"{accountName} ({invoice.AccountId})"));
        }
        rows.Add(("Kind", WireNames.Of(invoice.Kind) + (invoice.State == InvoiceState.Preview ? " (preview, not issued)" : "")));
        rows.Add(("Period", $"{Time(invoice.PeriodStart)} to {Time(invoice.PeriodEnd)}"));
        var currencies = invoice.Totals.Select(t => t.Currency).Distinct(StringComparer.Ordinal).ToList();
        if (currencies.Count > 0)
        {
            rows.Add((currencies.Count == 1 ? "Currency" : "Currencies", string.Join(", ", currencies)));
        }
        if (invoice.RatedUntil < invoice.PeriodEnd)
        {
            rows.Add(("Usage up to", Time(invoice.RatedUntil)));
        }
        if (invoice.Issued is { } issued)
        {
            rows.Add(("Issued", $"{Time(issued)} by {invoice.IssuedBy}"));
        }
        if (invoice.Id is { } id && invoice.Number is not null)
        {
            rows.Add(("Reference", id));
        }
        return rows;
    }

    private static void AddressLines(StringBuilder html, string? address)
    {
        if (address is not null)
        {
            // pre-line keeps the address's line breaks without markup of its own.
            html.Append('\n').Append(E(address));
        }
    }

    private static void Row(StringBuilder html, string name, string value) =>
        html.Append("<tr><th>").Append(E(name)).Append("</th><td>").Append(E(value)).Append("</td></tr>\n");

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    internal static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    internal static string Date(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    internal static string Quantity(decimal? d) => d is { } v ? v.ToString("#,0.######", CultureInfo.InvariantCulture) : "";

    /// <summary>
    /// The price per unit as the plan states it ("0.13 USD per hour"), digits untouched; a price
    /// after the unprovisioned discount is the product of two figures and shows its digits only.
    /// </summary>
    internal static string Rate(InvoiceLineView l) => l.UnitPrice is not { } p ? ""
        : $"{(l.DiscountPercent is null ? p.ToString(CultureInfo.InvariantCulture) : p.ToString("0.######", CultureInfo.InvariantCulture))} {l.Currency} per {l.Unit}";

    internal static string Amount(decimal d, string currency) => d.ToString("#,0.00", CultureInfo.InvariantCulture) + " " + currency;
}
