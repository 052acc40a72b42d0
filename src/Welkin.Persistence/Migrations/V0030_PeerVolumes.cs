using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The volumes a peer-cloud driver keeps on a peer for this cloud's volumes attached to machines of its pool
/// (Compute.Peer/PeerVolumeStore.cs): the local volume id to the agreement and the volume it is on the peer. A row
/// is written before the peer is called, so a create repeated after a crash finds the same remote volume.
/// </summary>
internal sealed class V0030_PeerVolumes : IMigration
{
    public long Version => 30;

    public string Name => "peer volumes";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE peer_volumes (
            volume_id TEXT PRIMARY KEY,
            pool TEXT NOT NULL,
            peer TEXT NOT NULL,
            agreement_id TEXT NOT NULL,
            generation BIGINT NOT NULL,
            size_gib BIGINT NOT NULL,
            remote_volume_id TEXT NULL,
            deleted BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
    ];
}
