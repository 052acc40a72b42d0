using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>A running job that waits for the jobs it started (its children) instead of being run: set while it waits.</summary>
internal sealed class V0016_WaitingJobs : IMigration
{
    public long Version => 16;

    public string Name => "jobs waiting for their children";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        "ALTER TABLE jobs ADD COLUMN waiting BIGINT NOT NULL DEFAULT 0",
    ];
}
