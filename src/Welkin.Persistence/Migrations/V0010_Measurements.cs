using Welkin.Core.Data;
using Welkin.Core.Monitoring;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The Service Monitor's three tiers of machine measurements: raw samples, 1-minute and 1-hour
/// rollups. A row holds every metric of one machine at one instant (raw) or over one bucket
/// (rollups: count, sum, min and max per metric), so one reading is one row in each tier.
/// </summary>
internal sealed class V0010_Measurements : IMigration
{
    public long Version => 10;

    public string Name => "measurements: raw samples, minute and hour rollups";

    public IReadOnlyList<string> Statements(IMigrationDialect d)
    {
        // Clustering the rows by (machine, time) keeps a machine's series together on disk; SQLite
        // needs WITHOUT ROWID for that, PostgreSQL has no such clause.
        var clustered = d.Provider == "sqlite" ? " WITHOUT ROWID" : "";
        var raw = string.Join(",\n", MeasurementColumns.All.Select(c => $"    {c} DOUBLE PRECISION NULL"));
        string Rollup(string table) =>
            $"""
            CREATE TABLE {table} (
                machine_id TEXT NOT NULL,
                t BIGINT NOT NULL,
            {string.Join(",\n", MeasurementColumns.All.Select(c => $"    {c}_n BIGINT NOT NULL,\n    {c}_sum DOUBLE PRECISION NOT NULL,\n    {c}_min DOUBLE PRECISION NULL,\n    {c}_max DOUBLE PRECISION NULL"))},
                PRIMARY KEY (machine_id, t)
            ){clustered}
            """;
        return
        [
            $"""
            CREATE TABLE measurements_raw (
                machine_id TEXT NOT NULL,
                t BIGINT NOT NULL,
            {raw},
                PRIMARY KEY (machine_id, t)
            ){clustered}
            """,
            // Pruning deletes by time across all machines.
            "CREATE INDEX measurements_raw_t ON measurements_raw (t)",
            Rollup("measurements_1m"),
            "CREATE INDEX measurements_1m_t ON measurements_1m (t)",
            Rollup("measurements_1h"),
            "CREATE INDEX measurements_1h_t ON measurements_1h (t)",
        ];
    }
}
