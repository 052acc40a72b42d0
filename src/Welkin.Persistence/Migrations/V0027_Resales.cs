using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// A broker's resales (Core/Federation/ResaleStore.cs): a peer's offering, under one of this cloud's
/// agreements, published here as an offering of this cloud's own with a margin. One per agreement and
/// peer offering.
/// </summary>
internal sealed class V0027_Resales : IMigration
{
    public long Version => 27;

    public string Name => "resales";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE resales (
            id TEXT PRIMARY KEY,
            agreement_id TEXT NOT NULL REFERENCES federation_agreements (id),
            peer TEXT NOT NULL,
            peer_offering_id TEXT NOT NULL,
            offering_id TEXT NOT NULL REFERENCES offerings (id),
            template_id TEXT NOT NULL,
            margin_percent TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (agreement_id, peer_offering_id)
        )
        """,
        "CREATE INDEX resales_offering ON resales (offering_id)",
    ];
}
