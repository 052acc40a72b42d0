using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// A token may be bound to a federation certificate (RFC 8705's idea): it is accepted only from a
/// connection that presented that certificate. Federation agreements issue such tokens to peer clouds.
/// </summary>
internal sealed class V0022_CertificateBoundTokens : IMigration
{
    public long Version => 22;

    public string Name => "certificate-bound tokens";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        "ALTER TABLE tokens ADD COLUMN certificate_sha256 TEXT NULL",
    ];
}
