using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// Limit requests: an account-admin asks for limits above the provider's self-service ceiling,
/// and a provider admin approves (the limits are applied) or refuses (with a reason).
/// </summary>
internal sealed class V0018_LimitRequests : IMigration
{
    public long Version => 18;

    public string Name => "limit requests";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        $"""
        CREATE TABLE limit_requests (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            limits {d.Json} NOT NULL,
            reason TEXT NOT NULL,
            state TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            decided_by TEXT NULL,
            decision_reason TEXT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            decided_at BIGINT NULL
        )
        """,
        "CREATE INDEX ix_limit_requests_account ON limit_requests (account_id, id)",
        "CREATE INDEX ix_limit_requests_state ON limit_requests (state, id)",
    ];
}
