using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>What a bill needs beyond its lines: invoice numbers and the bill-to account's billing address.</summary>
internal sealed class V0017_InvoiceNumbers : IMigration
{
    public long Version => 17;

    public string Name => "invoice numbers and billing addresses";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        // The last number handed out per prefix; it only grows, and it grows in the transaction
        // that stores the invoice, so a number is never reused and never skipped.
        """
        CREATE TABLE invoice_numbers (
            prefix TEXT PRIMARY KEY,
            last_number BIGINT NOT NULL
        )
        """,
        // Invoices issued before numbering have none.
        "ALTER TABLE invoices ADD COLUMN number TEXT NULL",
        "CREATE UNIQUE INDEX invoices_number ON invoices (number)",
        "ALTER TABLE accounts ADD COLUMN billing_address TEXT NULL",
    ];
}
