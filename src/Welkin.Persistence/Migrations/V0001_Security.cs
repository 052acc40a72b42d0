using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

internal sealed class V0001_Security : IMigration
{
    public long Version => 1;

    public string Name => "accounts, principals, tokens, audit log";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        $"""
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            state TEXT NOT NULL,
            limits {d.Json} NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE principals (
            id TEXT PRIMARY KEY,
            account_id TEXT NULL REFERENCES accounts (id),
            scope TEXT NOT NULL,
            name TEXT NOT NULL,
            display_name TEXT NOT NULL,
            kind TEXT NOT NULL,
            roles TEXT NOT NULL,
            state TEXT NOT NULL,
            password_hash TEXT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (scope, name)
        )
        """,
        "CREATE INDEX principals_account ON principals (account_id)",
        """
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            principal_id TEXT NOT NULL REFERENCES principals (id),
            name TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NULL,
            revoked_at BIGINT NULL,
            last_used_at BIGINT NULL
        )
        """,
        "CREATE INDEX tokens_principal ON tokens (principal_id)",
        """
        CREATE TABLE audit_log (
            seq BIGINT PRIMARY KEY,
            at BIGINT NOT NULL,
            actor TEXT NOT NULL,
            account_id TEXT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NULL,
            correlation_id TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """,
        "CREATE INDEX audit_log_account ON audit_log (account_id, seq)",
        """
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY,
            seq BIGINT NOT NULL,
            hash TEXT NOT NULL
        )
        """,
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')",
    ];
}
