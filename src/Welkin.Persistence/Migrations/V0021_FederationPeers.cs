using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>The peer clouds this cloud knows from their signed presence (Core/Federation/PeerStore.cs).</summary>
internal sealed class V0021_FederationPeers : IMigration
{
    public long Version => 21;

    public string Name => "federation peers";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        $"""
        CREATE TABLE federation_peers (
            address TEXT PRIMARY KEY,
            name TEXT NULL,
            url TEXT NULL,
            online BIGINT NOT NULL,
            last_seen BIGINT NULL,
            capacity {d.Json} NULL,
            trust_state TEXT NOT NULL,
            trust_reason TEXT NULL,
            fingerprint TEXT NULL,
            last_sequence BIGINT NOT NULL,
            version BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
    ];
}
