using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The virtual clock's time, SLA evaluations per term and billing period, and instances' scaling policies.
/// </summary>
internal sealed class V0013_Sla : IMigration
{
    public long Version => 13;

    public string Name => "virtual clock, SLA evaluations and scaling policies";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        // One row: where the virtual clock stands, so a restart in simulation mode continues there
        // (never backwards). Unused with the real clock.
        """
        CREATE TABLE clock_state (
            id BIGINT PRIMARY KEY,
            now_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        // The latest measure of one SLA term of one contract line in one billing period, whether
        // breached or not (a breach also has its sla_credits row). The report reads both.
        $"""
        CREATE TABLE sla_evaluations (
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            item BIGINT NOT NULL,
            period_start BIGINT NOT NULL,
            term TEXT NOT NULL,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            target {d.Money} NOT NULL,
            measured {d.Money} NULL,
            detail TEXT NULL,
            evaluated_at BIGINT NOT NULL,
            PRIMARY KEY (contract_id, item, period_start, term)
        )
        """,
        // At most one policy per instance; last_action_at drives the cooldown.
        $"""
        CREATE TABLE scaling_policies (
            instance_id TEXT PRIMARY KEY REFERENCES instances (id),
            account_id TEXT NOT NULL REFERENCES accounts (id),
            name TEXT NOT NULL,
            min_active BIGINT NOT NULL,
            max_active BIGINT NOT NULL,
            cpu_low {d.Money} NOT NULL,
            cpu_high {d.Money} NOT NULL,
            window_minutes BIGINT NOT NULL,
            cooldown_minutes BIGINT NOT NULL,
            last_action TEXT NULL,
            last_action_at BIGINT NULL,
            last_evaluated_at BIGINT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX scaling_policies_account ON scaling_policies (account_id)",
    ];
}
