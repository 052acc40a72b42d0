using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

internal sealed class V0002_Images : IMigration
{
    public long Version => 2;

    public string Name => "images";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE images (
            id TEXT PRIMARY KEY,
            account_id TEXT NULL REFERENCES accounts (id),
            name TEXT NOT NULL,
            description TEXT NULL,
            format TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            owner_principal TEXT NOT NULL,
            state TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX images_sha256 ON images (sha256)",
    ];
}
