using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

internal sealed class V0007_Provisioning : IMigration
{
    public long Version => 7;

    public string Name => "generated machine passwords are issued once per job";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        // Set by the first read of a finished provision or scale job that shows its machines'
        // generated passwords; only their hashes are stored (on the machines).
        "ALTER TABLE jobs ADD COLUMN passwords_issued_at BIGINT NULL",
        // Startup rebuilds placement from the machines that still hold capacity.
        "CREATE INDEX machines_holding ON machines (terminated_at, host)",
    ];
}
