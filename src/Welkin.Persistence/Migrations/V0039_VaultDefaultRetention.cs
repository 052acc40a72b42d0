using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// A vault's default retention (S3's Object Lock configuration rule, Core/Vault/VaultService.DefaultRetention.cs):
/// the mode and the period (an ISO 8601 duration of days or years) a record written without a class or
/// an explicit retention gets; both null when the vault has none.
/// </summary>
internal sealed class V0039_VaultDefaultRetention : IMigration
{
    public long Version => 39;

    public string Name => "vault default retention";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        "ALTER TABLE vaults ADD COLUMN default_mode TEXT NULL",
        "ALTER TABLE vaults ADD COLUMN default_period TEXT NULL",
    ];
}
