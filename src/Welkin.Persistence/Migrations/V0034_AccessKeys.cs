using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// S3 access keys of principals (Core/Security/AccessKeys.cs). The secret is stored sealed with a key
/// kept outside the database: Signature Version 4 needs the secret itself to recompute a signature.
/// </summary>
internal sealed class V0034_AccessKeys : IMigration
{
    public long Version => 34;

    public string Name => "access_keys";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE access_keys (
            id TEXT PRIMARY KEY,
            principal_id TEXT NOT NULL REFERENCES principals (id),
            name TEXT NOT NULL,
            secret_sealed TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT
        )
        """,
        "CREATE INDEX access_keys_principal ON access_keys (principal_id)",
    ];
}
