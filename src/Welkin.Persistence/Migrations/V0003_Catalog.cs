using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

internal sealed class V0003_Catalog : IMigration
{
    public long Version => 3;

    public string Name => "service templates and offerings";

    // One row per template version: published versions are frozen, so offerings can point at
    // (id, template_version) and keep meaning the same thing for as long as they exist.
    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        $"""
        CREATE TABLE templates (
            id TEXT NOT NULL,
            template_version BIGINT NOT NULL,
            state TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NULL,
            spec {d.Json} NOT NULL,
            owner_principal TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            published_at BIGINT NULL,
            retired_at BIGINT NULL,
            PRIMARY KEY (id, template_version)
        )
        """,
        "CREATE INDEX templates_state ON templates (state, id)",
        $"""
        CREATE TABLE offerings (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            spec {d.Json} NOT NULL,
            template_id TEXT NULL,
            template_version BIGINT NULL,
            owner_principal TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            published_at BIGINT NULL,
            withdrawn_at BIGINT NULL,
            FOREIGN KEY (template_id, template_version) REFERENCES templates (id, template_version)
        )
        """,
        "CREATE INDEX offerings_state ON offerings (state, id)",
        "CREATE INDEX offerings_template ON offerings (template_id, template_version)",
    ];
}
