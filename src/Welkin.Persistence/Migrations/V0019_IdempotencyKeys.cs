using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>The first answers of creating requests, under the caller's Idempotency-Key (Core/Common/Idempotency.cs).</summary>
internal sealed class V0019_IdempotencyKeys : IMigration
{
    public long Version => 19;

    public string Name => "idempotency keys";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE idempotency_keys (
            principal_id TEXT NOT NULL,
            route TEXT NOT NULL,
            key_hash TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status BIGINT NOT NULL,
            location TEXT NULL,
            body TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (principal_id, route, key_hash)
        )
        """,
        "CREATE INDEX ix_idempotency_keys_expires ON idempotency_keys (expires_at)",
    ];
}
