using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Federation agreements on both sides (Core/Federation/AgreementStore.cs): one row per agreement with
/// its current state, version and terms, one row per version in the history, and the provider's policy;
/// and a peer the provider admin stopped trusting (federation_peers.distrusted, kept by PeerStore).
/// </summary>
internal sealed class V0023_FederationAgreements : IMigration
{
    public long Version => 23;

    public string Name => "federation agreements";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        $"""
        CREATE TABLE federation_agreements (
            id TEXT PRIMARY KEY,
            side TEXT NOT NULL,
            peer_name TEXT NOT NULL,
            peer_address TEXT NULL,
            peer_url TEXT NULL,
            peer_fingerprint TEXT NOT NULL,
            peer_certificate TEXT NULL,
            proposal_id TEXT NULL,
            remote_id TEXT NULL,
            remote_version BIGINT NULL,
            state TEXT NOT NULL,
            terms {d.Json} NOT NULL,
            reasons {d.Json} NULL,
            account_id TEXT NULL,
            contract_ids {d.Json} NULL,
            token_id TEXT NULL,
            credential TEXT NULL,
            api_url TEXT NULL,
            termination_reason TEXT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX federation_agreements_proposal ON federation_agreements (side, peer_fingerprint, proposal_id)",
        "CREATE INDEX federation_agreements_peer ON federation_agreements (peer_name, state)",
        $"""
        CREATE TABLE federation_agreement_versions (
            agreement_id TEXT NOT NULL,
            version BIGINT NOT NULL,
            state TEXT NOT NULL,
            terms {d.Json} NOT NULL,
            reason TEXT NULL,
            at BIGINT NOT NULL,
            PRIMARY KEY (agreement_id, version)
        )
        """,
        $"""
        CREATE TABLE federation_policy (
            id BIGINT PRIMARY KEY,
            policy {d.Json} NOT NULL,
            version BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "ALTER TABLE federation_peers ADD COLUMN distrusted TEXT NULL",
    ];
}
