using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Bursting (Core/Federation/BurstPolicies.cs): the cloud's bursting policy, one versioned row; and
/// the peer cloud whose pool a machine was placed in (machines.peer, null for this cloud's own hosts),
/// kept with the machine so where it runs outlives the pool's configuration.
/// </summary>
internal sealed class V0025_Bursting : IMigration
{
    public long Version => 25;

    public string Name => "bursting";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        $"""
        CREATE TABLE burst_policy (
            id BIGINT PRIMARY KEY,
            policy {d.Json} NOT NULL,
            version BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "ALTER TABLE machines ADD COLUMN peer TEXT NULL",
        "CREATE INDEX machines_peer ON machines (peer)",
    ];
}
