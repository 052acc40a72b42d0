using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Audit entries get a seal (an HMAC keyed outside the database), and the schema refuses sequence
/// numbers below 1. Rows already below 1 are kept, not dropped: verification counts and reports them.
/// SQLite cannot add a constraint to a table, so the table is rebuilt; PostgreSQL adds it NOT VALID,
/// which checks every new row and leaves old ones alone.
/// </summary>
internal sealed class V0020_AuditSeals : IMigration
{
    public long Version => 20;

    public string Name => "audit entry seals, sequence numbers from 1";

    public IReadOnlyList<string> Statements(IMigrationDialect d) => d.Provider == "postgresql"
        ?
        [
            "ALTER TABLE audit_log ADD COLUMN seal TEXT NULL",
            "ALTER TABLE audit_log ADD CONSTRAINT audit_log_seq_positive CHECK (seq >= 1) NOT VALID",
        ]
        :
        [
            """
            CREATE TABLE audit_log_new (
                seq BIGINT PRIMARY KEY CONSTRAINT audit_log_seq_positive CHECK (seq >= 1),
                at BIGINT NOT NULL,
                actor TEXT NOT NULL,
                account_id TEXT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT NULL,
                correlation_id TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL,
                seal TEXT NULL
            )
            """,
            "PRAGMA ignore_check_constraints = ON",
            """
            INSERT INTO audit_log_new (seq, at, actor, account_id, action, target, outcome, detail, correlation_id, prev_hash, hash)
            SELECT seq, at, actor, account_id, action, target, outcome, detail, correlation_id, prev_hash, hash FROM audit_log
            """,
            "PRAGMA ignore_check_constraints = OFF",
            "DROP TABLE audit_log",
            "ALTER TABLE audit_log_new RENAME TO audit_log",
            "CREATE INDEX audit_log_account ON audit_log (account_id, seq)",
        ];
}
