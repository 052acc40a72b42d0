using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Resumable uploads of an account (Core/Uploads/UploadService.cs): the declared size and digest and
/// how many bytes are durably received; and the virtual size of a disk image, which an account's own
/// image must fit into the disk its contract line allows.
/// </summary>
internal sealed class V0026_Uploads : IMigration
{
    public long Version => 26;

    public string Name => "uploads";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE uploads (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            owner_principal TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            received_bytes BIGINT NOT NULL,
            state TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX uploads_account ON uploads (account_id)",
        "CREATE INDEX uploads_expires ON uploads (expires_at)",
        "ALTER TABLE images ADD COLUMN virtual_size_bytes BIGINT NULL",
        "CREATE INDEX images_account ON images (account_id)",
    ];
}
