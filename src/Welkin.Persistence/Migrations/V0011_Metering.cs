using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The meter's own state: how far it has read the event log and the intervals it has opened but
/// not yet closed. Both change in the transaction that writes the usage records they lead to, so
/// a crash or restart neither counts a millisecond twice nor loses one.
/// </summary>
internal sealed class V0011_Metering : IMigration
{
    public long Version => 11;

    public string Name => "meter cursor and open usage intervals";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        // One row. cursor_seq: the last event the meter has applied; metered_to: every usage slice
        // ending at or before this instant (unix ms) is in usage_records.
        """
        CREATE TABLE meter_state (
            id BIGINT PRIMARY KEY,
            cursor_seq BIGINT NOT NULL,
            metered_to BIGINT NULL,
            version BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "INSERT INTO meter_state (id, cursor_seq, metered_to, version, updated_at) VALUES (1, 0, NULL, 0, 0)",
        // An interval the meter has opened (a machine active, a volume provisioned, units ordered):
        // rate per millisecond (vCPUs, MiB, GiB, units) from start_at, the point up to which it is
        // already written as usage records.
        """
        CREATE TABLE meter_intervals (
            resource_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            item BIGINT NOT NULL,
            account_id TEXT NOT NULL,
            contract_id TEXT NOT NULL,
            rate BIGINT NOT NULL,
            start_at BIGINT NOT NULL,
            source_seq BIGINT NOT NULL,
            PRIMARY KEY (resource_id, metric, item)
        )
        """,
    ];
}
