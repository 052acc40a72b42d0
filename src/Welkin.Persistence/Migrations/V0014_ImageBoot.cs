using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>How an image boots on a fabric of real machines: kernel and ramdisk images, command line, ready marker (JSON).</summary>
internal sealed class V0014_ImageBoot : IMigration
{
    public long Version => 14;

    public string Name => "image boot settings";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        "ALTER TABLE images ADD COLUMN boot TEXT NULL",
    ];
}
