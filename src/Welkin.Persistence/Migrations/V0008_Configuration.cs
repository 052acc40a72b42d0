using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>Volumes, tenant networks and their attachments (Configuration Manager).</summary>
internal sealed class V0008_Configuration : IMigration
{
    public long Version => 8;

    public string Name => "volumes, networks and network attachments";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        // A volume holds size_gib / increment_gib units of its storage line. applied = 1 once the
        // driver has the attachment; 0 while it waits for the machine's next start.
        """
        CREATE TABLE volumes (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            item BIGINT NOT NULL,
            limit_unit TEXT NOT NULL,
            units BIGINT NOT NULL,
            name TEXT NOT NULL,
            size_gib BIGINT NOT NULL,
            state TEXT NOT NULL,
            machine_id TEXT NULL REFERENCES machines (id),
            device TEXT NULL,
            applied BIGINT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            deleted_at BIGINT NULL
        )
        """,
        "CREATE INDEX volumes_account ON volumes (account_id, id)",
        "CREATE INDEX volumes_contract ON volumes (contract_id)",
        // NULLs are distinct on both providers, so only attached volumes take part.
        "CREATE UNIQUE INDEX volumes_device ON volumes (machine_id, device)",
        // live_name is the name while the network exists and NULL once deleted, so a deleted
        // network's name can be used again.
        """
        CREATE TABLE networks (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            name TEXT NOT NULL,
            live_name TEXT NULL,
            cidr TEXT NOT NULL,
            first_address BIGINT NOT NULL,
            prefix_length BIGINT NOT NULL,
            state TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            deleted_at BIGINT NULL
        )
        """,
        "CREATE INDEX networks_account ON networks (account_id, id)",
        "CREATE UNIQUE INDEX networks_name ON networks (account_id, live_name)",
        // The unique indexes decide address allocation: two connects that chose the same address
        // cannot both insert (the loser retries with the next free one).
        """
        CREATE TABLE network_attachments (
            network_id TEXT NOT NULL REFERENCES networks (id),
            machine_id TEXT NOT NULL REFERENCES machines (id),
            account_id TEXT NOT NULL,
            address TEXT NOT NULL,
            host_index BIGINT NOT NULL,
            mac TEXT NOT NULL,
            state TEXT NOT NULL,
            applied BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (network_id, machine_id),
            UNIQUE (network_id, address)
        )
        """,
        "CREATE INDEX network_attachments_machine ON network_attachments (machine_id)",
    ];
}
