using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Metered usage and SLA credits: what the meter derives from the event log and what the SLA
/// evaluation grants, the two inputs rating and invoicing read.
/// </summary>
internal sealed class V0009_Usage : IMigration
{
    public long Version => 9;

    public string Name => "usage records and SLA credits";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        // One row is one metric of one resource over one slice of time that never crosses an
        // hour boundary (UTC), so any period or hour-of-day profile is a sum of whole rows.
        // Quantities are exact integers in millisecond units: vcpu-ms, memory-mib-ms,
        // storage-gib-ms, unit-ordered-ms, unit-provisioned-ms. The id is derived from
        // (resource, metric, start), so deriving the same slice twice writes it once.
        """
        CREATE TABLE usage_records (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            item BIGINT NOT NULL,
            resource_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            start_at BIGINT NOT NULL,
            end_at BIGINT NOT NULL,
            source_seq BIGINT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX usage_records_account ON usage_records (account_id, start_at)",
        "CREATE INDEX usage_records_contract ON usage_records (contract_id, start_at)",
        "CREATE INDEX usage_records_resource ON usage_records (resource_id, metric, start_at)",
        // A credit the SLA evaluation granted for one term of one contract in one billing
        // period; the invoice of that period subtracts percent of the contract's charges.
        // One row per (contract, period, term): re-evaluating updates it until the invoice is issued.
        $"""
        CREATE TABLE sla_credits (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            period_start BIGINT NOT NULL,
            period_end BIGINT NOT NULL,
            term TEXT NOT NULL,
            target {d.Money} NOT NULL,
            measured {d.Money} NOT NULL,
            credit_percent {d.Money} NOT NULL,
            detail TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX sla_credits_term ON sla_credits (contract_id, period_start, term)",
        "CREATE INDEX sla_credits_account ON sla_credits (account_id, period_start)",
    ];
}
