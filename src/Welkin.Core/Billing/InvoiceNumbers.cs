using System.Globalization;
using Welkin.Core.Data;

namespace Welkin.Core.Billing;

/// <summary>
/// The owner of <c>invoice_numbers</c>: invoice numbers, sequential per provider prefix. The next
/// number is taken in the transaction that stores the invoice, under the counter row's lock, so
/// two invoices never share a number and a rolled-back issue gives its number back unseen.
/// </summary>
internal static class InvoiceNumbers
{
    public static async Task<string> NextAsync(Tx tx, string prefix, DateTimeOffset issued)
    {
        await tx.ExecuteAsync(
            """
            INSERT INTO invoice_numbers (prefix, last_number) VALUES (@Prefix, 1)
            ON CONFLICT (prefix) DO UPDATE SET last_number = invoice_numbers.last_number + 1
            """, new { Prefix = prefix });
        var number = await tx.ExecuteScalarAsync<long>("SELECT last_number FROM invoice_numbers WHERE prefix = @Prefix", new { Prefix = prefix });
        return Format(prefix, issued.UtcDateTime.Year, number);
    }

    /// <summary>"WK-2026-000123": the prefix, the year of issue and the sequence number (six digits at least).</summary>
    public static string Format(string prefix, int year, long number) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}-{year:0000}-{number:000000}");
}
