using System.Globalization;
using System.Net;
using System.Text;
using Welkin.Contracts;

namespace Welkin.Core.Vault;

/// <summary>
/// The human rendering of a SOX report: one self-contained HTML page with an inline style, no script
/// and no external resources, as the invoice's. Every value from the report is HTML-encoded.
/// </summary>
public static class SoxReportHtml
{
    /// <summary>Sent with the page: nothing may run or load, only the inline style applies.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";

    private const string Style =
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%;margin:1em 0}"
        + "th,td{border-bottom:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}h2,h3{margin-top:1.5em}"
        + ".verdict{font-weight:bold;padding:.5em;border:2px solid #222}.bad{color:#a00}"
        + "@media print{@page{size:A4;margin:15mm}body{margin:0;font-size:10pt}thead{display:table-header-group}tr{break-inside:avoid}h2,h3{break-after:avoid}}";

    private static readonly string[] EntryHeads = ["Entry", "Time", "Actor", "Action", "Record", "Detail"];

    public static string Render(SoxReportView report)
    {
        var html = Start($"SOX report: vault {report.Vault.Name} ({report.Vault.Id}), {Time(report.From)} to {Time(report.To)}");
        html.Append("<p>Account ").Append(E(report.Vault.AccountId)).Append(". Generated ").Append(E(Time(report.Generated))).Append(".</p>\n");
        Verdict(html, report.Intact, report.Verdict);
        Sections(html, report, 2);
        return html.Append("</body>\n</html>\n").ToString();
    }

    /// <summary>An account's report: its verdict and findings, then each vault's report under its own heading.</summary>
    public static string Render(AccountSoxReportView report)
    {
        var html = Start($"SOX report: account {report.AccountId}, {Time(report.From)} to {Time(report.To)}");
        html.Append("<p>").Append(E(string.Create(CultureInfo.InvariantCulture, $"Generated {Time(report.Generated)}; vaults in the period: {report.Vaults.Count}."))).Append("</p>\n");
        Verdict(html, report.Intact, report.Verdict);
        if (report.Vaults.Count == 0)
        {
            html.Append("<p>The account had no vault in this period.</p>\n");
        }
        foreach (var vault in report.Vaults)
        {
            html.Append("<h2>").Append(E($"Vault {vault.Vault.Name} ({vault.Vault.Id})")).Append("</h2>\n");
            Verdict(html, vault.Intact, vault.Verdict);
            Sections(html, vault, 3);
        }
        return html.Append("</body>\n</html>\n").ToString();
    }

    private static StringBuilder Start(string title) =>
        new StringBuilder(8192).Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").Append(E(title)).Append("</title>\n")
            .Append("<style>").Append(Style).Append("</style>\n</head>\n<body>\n<h1>").Append(E(title)).Append("</h1>\n");

    private static void Verdict(StringBuilder html, bool intact, string verdict) =>
        html.Append("<p class=\"verdict").Append(intact ? "" : " bad").Append("\">").Append(E(verdict)).Append("</p>\n");

    /// <summary>A vault's findings, classes, history, destructions and audit chain, with headings of <paramref name="level"/>.</summary>
    private static void Sections(StringBuilder html, SoxReportView report, int level)
    {
        if (report.Findings.Count > 0)
        {
            Table(html, level, "Findings", ["Code", "Subject", "Detail"], report.Findings.Select(f => new[] { f.Code, f.Subject, f.Detail }));
        }
        Table(html, level, "Retention classes", ["Name", "cdmi_retention_period", "Mode", "cdmi_retention_autodelete", "cdmi_sanitization_method", "Created"],
            report.Classes.Select(c => new[] { c.Name, c.RetentionPeriod, Mode(c.Mode), c.AutoDelete ? "yes" : "no", c.SanitizationMethod, Time(c.Created) }));
        Entries(html, level, "Retention configuration history", report.ConfigurationHistory);
        Entries(html, level, "Legal holds placed and removed", report.Holds);
        Entries(html, level, "Governance bypasses used", report.Bypasses);
        Entries(html, level, "Retention lengthened or changed", report.RetentionChanges);
        Entries(html, level, "Records written", report.RecordsWritten);
        Table(html, level, "Destructions", ["Record", "Key", "Class", "Mode", "Retain until", "Destroyed", "Reason", "Certificate", "On time"],
            report.Destructions.Select(d => new[]
            {
                d.RecordId, d.Key, d.ClassName, d.Mode is { } m ? Mode(m) : "none", d.RetainUntil is { } u ? Time(u) : "", d.DestroyedAt is { } t ? Time(t) : "",
                d.Reason, d.SignatureValid ? "signature verifies" : "SIGNATURE DOES NOT VERIFY",
                d.OnTime ? "yes" : d.AllowedBy is { } by ? $"before retain-until, allowed: {by}" : "NO",
            }));
        var chain = report.AuditChain;
        Heading(html, level, "Audit chain");
        html.Append("<p>").Append(E(string.Create(CultureInfo.InvariantCulture,
            $"The chain of {chain.Entries} entries is {(chain.Intact ? "intact" : "NOT intact")} against its signed checkpoints; this vault's entries in the period are {(chain.FirstEntry is { } f ? $"{f} to {chain.LastEntry}" : "none")}; checkpoints vouching for the period: {(chain.Checkpoints.Count == 0 ? "none" : string.Join(", ", chain.Checkpoints))}.")))
            .Append("</p>\n");
    }

    private static void Entries(StringBuilder html, int level, string heading, IReadOnlyList<AuditEntryView> entries) =>
        Table(html, level, heading, EntryHeads, entries.Select(e => new[]
        {
            e.Seq.ToString(CultureInfo.InvariantCulture), Time(e.At), e.Actor, e.Action, e.Target, e.Detail,
        }));

    private static void Heading(StringBuilder html, int level, string heading)
    {
        var tag = level == 2 ? "h2" : "h3";
        html.Append('<').Append(tag).Append('>').Append(E(heading)).Append("</").Append(tag).Append(">\n");
    }

    private static void Table(StringBuilder html, int level, string heading, string[] heads, IEnumerable<string?[]> rows)
    {
        Heading(html, level, heading);
        var list = rows.ToList();
        if (list.Count == 0)
        {
            html.Append("<p>None in this period.</p>\n");
            return;
        }
        html.Append("<table>\n<thead><tr>");
        foreach (var h in heads)
        {
            html.Append("<th>").Append(E(h)).Append("</th>");
        }
        html.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in list)
        {
            html.Append("<tr>");
            foreach (var cell in row)
            {
                html.Append("<td>").Append(E(cell)).Append("</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</tbody>\n</table>\n");
    }

    private static string Mode(RetentionMode mode) => mode == RetentionMode.Compliance ? "compliance" : "governance";

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
}
