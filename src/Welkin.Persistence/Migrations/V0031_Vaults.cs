using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The retention vault (Core/Vault): vaults drawn from storage lines, their retention classes, the
/// write-once records and their legal holds, the account's tenant keys (wrapped by the master key),
/// and the destruction certificates. A record's data key is not here: it lives in the vault's key
/// store outside the database, so a copy of the database cannot bring a destroyed record back.
/// </summary>
internal sealed class V0031_Vaults : IMigration
{
    public long Version => 31;

    public string Name => "vaults";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE vaults (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            item BIGINT NOT NULL,
            limit_unit TEXT NOT NULL,
            units BIGINT NOT NULL,
            name TEXT NOT NULL,
            capacity_gib BIGINT NOT NULL,
            stored_bytes BIGINT NOT NULL,
            records BIGINT NOT NULL,
            object_lock BIGINT NOT NULL,
            state TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            deleted_at BIGINT NULL
        )
        """,
        "CREATE INDEX vaults_account ON vaults (account_id)",
        "CREATE INDEX vaults_contract ON vaults (contract_id)",
        """
        CREATE TABLE vault_classes (
            vault_id TEXT NOT NULL REFERENCES vaults (id),
            name TEXT NOT NULL,
            period TEXT NOT NULL,
            mode TEXT NOT NULL,
            auto_delete BIGINT NOT NULL,
            sanitization TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (vault_id, name)
        )
        """,
        """
        CREATE TABLE vault_records (
            id TEXT PRIMARY KEY,
            vault_id TEXT NOT NULL REFERENCES vaults (id),
            account_id TEXT NOT NULL REFERENCES accounts (id),
            record_key TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            class_name TEXT NULL,
            mode TEXT NULL,
            retain_until BIGINT NULL,
            auto_delete BIGINT NOT NULL,
            sanitization TEXT NOT NULL,
            state TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            shredded_at BIGINT NULL
        )
        """,
        "CREATE INDEX vault_records_key ON vault_records (vault_id, record_key, id)",
        "CREATE INDEX vault_records_due ON vault_records (state, retain_until)",
        """
        CREATE TABLE vault_holds (
            record_id TEXT NOT NULL REFERENCES vault_records (id),
            hold_id TEXT NOT NULL,
            placed_by TEXT NOT NULL,
            placed_at BIGINT NOT NULL,
            PRIMARY KEY (record_id, hold_id)
        )
        """,
        """
        CREATE TABLE vault_tenant_keys (
            account_id TEXT NOT NULL REFERENCES accounts (id),
            key_version BIGINT NOT NULL,
            wrapped_key TEXT NOT NULL,
            master_key_id TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (account_id, key_version)
        )
        """,
        """
        CREATE TABLE vault_certificates (
            record_id TEXT PRIMARY KEY REFERENCES vault_records (id),
            vault_id TEXT NOT NULL REFERENCES vaults (id),
            account_id TEXT NOT NULL REFERENCES accounts (id),
            statement TEXT NOT NULL,
            signature TEXT NOT NULL,
            key_id TEXT NOT NULL,
            issued_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX vault_certificates_vault ON vault_certificates (vault_id, record_id)",
    ];
}
