using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The host pool a machine was placed in, and the pool whose storage holds a volume's data once it
/// was attached somewhere. Rows made before pools existed get their pool when the server starts
/// (from the pool that has their host).
/// </summary>
internal sealed class V0015_HostPools : IMigration
{
    public long Version => 15;

    public string Name => "host pools of machines and volumes";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        "ALTER TABLE machines ADD COLUMN pool TEXT NULL",
        "ALTER TABLE volumes ADD COLUMN pool TEXT NULL",
    ];
}
