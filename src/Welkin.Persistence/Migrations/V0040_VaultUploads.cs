using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Multipart uploads into a vault (Core/Vault/RecordUploads.cs): an upload of a key, open until it is
/// completed into one record, aborted or expired, and its parts, each an encrypted file named by its salt.
/// </summary>
internal sealed class V0040_VaultUploads : IMigration
{
    public long Version => 40;

    public string Name => "vault_uploads";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE vault_uploads (
            id TEXT PRIMARY KEY,
            vault_id TEXT NOT NULL REFERENCES vaults (id),
            account_id TEXT NOT NULL,
            record_key TEXT NOT NULL,
            initiator TEXT NOT NULL,
            state TEXT NOT NULL,
            record_id TEXT,
            etag TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX vault_uploads_vault ON vault_uploads (vault_id, state, record_key)",
        """
        CREATE TABLE vault_upload_parts (
            upload_id TEXT NOT NULL REFERENCES vault_uploads (id),
            part_number INTEGER NOT NULL,
            salt TEXT NOT NULL,
            md5 TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (upload_id, part_number)
        )
        """,
    ];
}
