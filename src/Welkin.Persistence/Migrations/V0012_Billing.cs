using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>Price plan versions of contract lines, and issued invoices.</summary>
internal sealed class V0012_Billing : IMigration
{
    public long Version => 12;

    public string Name => "price plan versions and invoices";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        // Version 1 of every line is the plan in contracts.items (copied from the offering when
        // proposed); rows here are versions 2, 3, ... taking effect at effective_from.
        $"""
        CREATE TABLE price_plan_versions (
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            item BIGINT NOT NULL,
            version BIGINT NOT NULL,
            effective_from BIGINT NOT NULL,
            plan {d.Json} NOT NULL,
            reason TEXT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (contract_id, item, version)
        )
        """,
        // An issued invoice is one immutable document (lines, rates and the plan versions it used);
        // nothing updates it. One invoice per account and period: a final invoice is the invoice of
        // the period the account closed in.
        $"""
        CREATE TABLE invoices (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            period TEXT NOT NULL,
            kind TEXT NOT NULL,
            period_start BIGINT NOT NULL,
            period_end BIGINT NOT NULL,
            totals {d.Json} NOT NULL,
            line_count BIGINT NOT NULL,
            document {d.Json} NOT NULL,
            issued_by TEXT NOT NULL,
            issued_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX invoices_period ON invoices (account_id, period_start)",
    ];
}
