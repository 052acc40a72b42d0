using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The portal's sessions (Server/Infrastructure/PortalSessionStore.cs), so that a restart signs nobody out: keyed
/// by the SHA-256 of the cookie (hex), the clouds and API tokens in <c>contents</c> encrypted with Data Protection
/// (base64; the key ring is not in the database), and the times that decide expiry, in Unix milliseconds.
/// </summary>
internal sealed class V0041_PortalSessions : IMigration
{
    public long Version => 41;

    public string Name => "portal sessions";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE portal_sessions (
            cookie_hash TEXT PRIMARY KEY,
            contents TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            last_seen_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at)",
        "CREATE INDEX portal_sessions_seen ON portal_sessions (last_seen_at)",
    ];
}
