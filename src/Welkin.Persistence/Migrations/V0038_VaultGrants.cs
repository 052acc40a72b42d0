using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Grants of a vault's records to regulators (Core/Vault/VaultGrants.cs): named records (a JSON list)
/// or a key prefix with an optional class, until a time; the legal basis when the provider gave it.
/// </summary>
internal sealed class V0038_VaultGrants : IMigration
{
    public long Version => 38;

    public string Name => "vault_grants";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE vault_grants (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            vault_id TEXT NOT NULL REFERENCES vaults (id),
            regulator_id TEXT NOT NULL REFERENCES principals (id),
            record_ids TEXT,
            key_prefix TEXT,
            class_name TEXT,
            granted_by TEXT NOT NULL,
            by_provider INTEGER NOT NULL,
            legal_basis TEXT,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            revoked_at BIGINT
        )
        """,
        "CREATE INDEX vault_grants_account ON vault_grants (account_id)",
        "CREATE INDEX vault_grants_regulator ON vault_grants (regulator_id)",
    ];
}
