using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Machine packages (Core/Catalog/MachinePackages.cs): a machine's OVA kept in a file with its size and
/// SHA-256 for a resumable download, one per machine, until it expires.
/// </summary>
internal sealed class V0035_MachinePackages : IMigration
{
    public long Version => 35;

    public string Name => "machine-packages";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE machine_packages (
            machine_id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            machine_version BIGINT NOT NULL,
            size_bytes BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            disk_source TEXT NOT NULL,
            file_name TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX machine_packages_expires ON machine_packages (expires_at)",
    ];
}
