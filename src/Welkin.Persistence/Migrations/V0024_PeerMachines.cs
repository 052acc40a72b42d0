using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The machines a peer-cloud driver created on a peer (Compute.Peer/PeerMachineStore.cs): the local machine id
/// to the agreement it runs under and the instance and machine it is on the peer. A row is written before the
/// peer is called, so a create repeated after a crash finds the same remote machine (its Idempotency-Key).
/// </summary>
internal sealed class V0024_PeerMachines : IMigration
{
    public long Version => 24;

    public string Name => "peer machines";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE peer_machines (
            machine_id TEXT PRIMARY KEY,
            pool TEXT NOT NULL,
            peer TEXT NOT NULL,
            agreement_id TEXT NOT NULL,
            generation BIGINT NOT NULL,
            host TEXT NOT NULL,
            account_id TEXT NOT NULL,
            vcpus BIGINT NOT NULL,
            memory_mib BIGINT NOT NULL,
            disk_gib BIGINT NOT NULL,
            image_id TEXT NULL,
            remote_instance_id TEXT NULL,
            remote_machine_id TEXT NULL,
            destroyed BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX peer_machines_pool ON peer_machines (pool, destroyed)",
    ];
}
