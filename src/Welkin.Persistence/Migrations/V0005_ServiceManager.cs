using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

internal sealed class V0005_ServiceManager : IMigration
{
    public long Version => 5;

    public string Name => "contracts, quotas, instances, machines, jobs and events";

    // Long on purpose: one version's schema statements, a flat list run in order.
    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        // Per account and unit: what proposed and active contracts hold (ordered) and what is
        // provisioned now. Limits live on the account; a request draws units with a conditional
        // UPDATE (... WHERE ordered + @n <= @limit), which is atomic on both providers.
        """
        CREATE TABLE quotas (
            account_id TEXT NOT NULL REFERENCES accounts (id),
            unit TEXT NOT NULL,
            ordered BIGINT NOT NULL,
            provisioned BIGINT NOT NULL,
            PRIMARY KEY (account_id, unit)
        )
        """,
        $"""
        CREATE TABLE contracts (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            name TEXT NULL,
            state TEXT NOT NULL,
            revision BIGINT NOT NULL,
            items {d.Json} NOT NULL,
            term_months BIGINT NOT NULL,
            constraints {d.Json} NULL,
            requested_by TEXT NOT NULL,
            proposal_expires_at BIGINT NULL,
            accepted_at BIGINT NULL,
            term_ends_at BIGINT NULL,
            terminated_at BIGINT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX contracts_account ON contracts (account_id, id)",
        "CREATE INDEX contracts_expiry ON contracts (state, proposal_expires_at)",
        // One row per line: quantity bought and how much of it is provisioned now. Provisioning
        // draws with UPDATE ... WHERE provisioned + @n <= quantity.
        """
        CREATE TABLE contract_items (
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            item BIGINT NOT NULL,
            offering_id TEXT NOT NULL REFERENCES offerings (id),
            kind TEXT NOT NULL,
            limit_unit TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            provisioned BIGINT NOT NULL,
            PRIMARY KEY (contract_id, item)
        )
        """,
        $"""
        CREATE TABLE contract_revisions (
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            revision BIGINT NOT NULL,
            items {d.Json} NOT NULL,
            term_months BIGINT NOT NULL,
            changed_by TEXT NOT NULL,
            reason TEXT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (contract_id, revision)
        )
        """,
        $"""
        CREATE TABLE instances (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            item BIGINT NOT NULL,
            offering_id TEXT NOT NULL,
            template_id TEXT NOT NULL,
            template_version BIGINT NOT NULL,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            spec {d.Json} NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            terminated_at BIGINT NULL
        )
        """,
        "CREATE INDEX instances_account ON instances (account_id, id)",
        "CREATE INDEX instances_contract ON instances (contract_id)",
        $"""
        CREATE TABLE machines (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id),
            instance_id TEXT NOT NULL REFERENCES instances (id),
            contract_id TEXT NOT NULL REFERENCES contracts (id),
            virtual_system TEXT NOT NULL,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            host TEXT NULL,
            vcpus BIGINT NOT NULL,
            memory_mib BIGINT NOT NULL,
            disk_gib BIGINT NOT NULL,
            image_id TEXT NULL,
            config {d.Json} NOT NULL,
            access {d.Json} NULL,
            error TEXT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            state_changed_at BIGINT NOT NULL,
            terminated_at BIGINT NULL
        )
        """,
        "CREATE INDEX machines_account ON machines (account_id, id)",
        "CREATE INDEX machines_instance ON machines (instance_id)",
        "CREATE INDEX machines_contract ON machines (contract_id)",
        "CREATE INDEX machines_host ON machines (host, state)",
        // Jobs are the durable record of accepted asynchronous work: a crash between accepting and
        // finishing leaves a queued or running row that the runner picks up again after restart.
        $"""
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            account_id TEXT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            state TEXT NOT NULL,
            progress BIGINT NOT NULL,
            status_message TEXT NULL,
            error_code TEXT NULL,
            error_detail TEXT NULL,
            parent_id TEXT NULL,
            request {d.Json} NULL,
            result {d.Json} NULL,
            attempts BIGINT NOT NULL,
            created_by TEXT NOT NULL,
            correlation_id TEXT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            started_at BIGINT NULL,
            finished_at BIGINT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX jobs_state ON jobs (state, id)",
        "CREATE INDEX jobs_account ON jobs (account_id, id)",
        "CREATE INDEX jobs_target ON jobs (target, id)",
        // Events are numbered from a counter row updated in the writing transaction, so numbers
        // follow commit order without gaps and a reader paging by seq never skips a late commit.
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "INSERT INTO counters (name, value) VALUES ('events', 0)",
        $"""
        CREATE TABLE events (
            seq BIGINT PRIMARY KEY,
            account_id TEXT NULL,
            type TEXT NOT NULL,
            target TEXT NOT NULL,
            at BIGINT NOT NULL,
            data {d.Json} NOT NULL,
            correlation_id TEXT NULL
        )
        """,
        "CREATE INDEX events_account ON events (account_id, seq)",
        "CREATE INDEX events_target ON events (target, seq)",
    ];
}
