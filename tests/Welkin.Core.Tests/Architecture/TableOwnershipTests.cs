using System.Text.RegularExpressions;

namespace Welkin.Core.Tests.Architecture;

/// <summary>
/// One owner per table: SQL that names a table (FROM, JOIN, INTO, UPDATE, DELETE FROM) appears
/// only in the files of that table's owner, through which every write goes and which offers the
/// reads other rooms need. Checked on the sources of every project but Persistence (which holds
/// the schema); the tables are those the migrations create, and each must have an owner here.
/// docs/architecture.md ("Who owns which table") shows the same map.
/// </summary>
public sealed partial class TableOwnershipTests
{
    // Table → the file(s) of its one owner type, relative to src/.
    private static readonly Dictionary<string, string[]> Owners = new(StringComparer.Ordinal)
    {
        ["accounts"] = ["Welkin.Core/Accounts/AccountStore.cs"],
        ["limit_requests"] = ["Welkin.Core/Accounts/LimitRequestStore.cs"],
        ["audit_head"] = ["Welkin.Core/Audit/AuditLog.cs"],
        ["audit_log"] = ["Welkin.Core/Audit/AuditLog.cs"],
        ["blobs"] = ["Welkin.Core/Catalog/Images/ImageService.cs", "Welkin.Core/Catalog/Images/AccountImageService.cs"],
        ["images"] = ["Welkin.Core/Catalog/Images/ImageService.cs", "Welkin.Core/Catalog/Images/AccountImageService.cs"],
        ["offerings"] = ["Welkin.Core/Catalog/OfferingService.cs"],
        ["templates"] = ["Welkin.Core/Catalog/TemplateService.cs"],
        ["invoices"] = ["Welkin.Core/Billing/InvoiceService.cs"],
        ["price_plan_versions"] = ["Welkin.Core/Billing/InvoiceService.cs"],
        ["invoice_numbers"] = ["Welkin.Core/Billing/InvoiceNumbers.cs"],
        ["clock_state"] = ["Welkin.Core/Clock/SimulationClock.cs"],
        ["idempotency_keys"] = ["Welkin.Core/Common/Idempotency.cs"],
        ["federation_peers"] = ["Welkin.Core/Federation/PeerStore.cs"],
        ["federation_agreements"] = ["Welkin.Core/Federation/AgreementStore.cs"],
        ["resales"] = ["Welkin.Core/Federation/ResaleStore.cs"],
        ["federation_agreement_versions"] = ["Welkin.Core/Federation/AgreementStore.cs"],
        ["federation_policy"] = ["Welkin.Core/Federation/AgreementStore.cs"],
        ["peer_machines"] = ["Welkin.Compute.Peer/PeerMachineStore.cs"],
        ["peer_volumes"] = ["Welkin.Compute.Peer/PeerVolumeStore.cs"],
        ["burst_policy"] = ["Welkin.Core/Federation/BurstPolicies.cs"],
        ["volumes"] = ["Welkin.Core/Configuration/VolumeStore.cs"],
        ["networks"] = ["Welkin.Core/Configuration/NetworkStore.cs"],
        ["network_attachments"] = ["Welkin.Core/Configuration/NetworkStore.cs"],
        ["contracts"] = ["Welkin.Core/Contracts/ContractStore.cs"],
        ["contract_items"] = ["Welkin.Core/Contracts/ContractStore.cs"],
        ["contract_revisions"] = ["Welkin.Core/Contracts/ContractStore.cs"],
        ["quotas"] = ["Welkin.Core/Contracts/Quotas.cs"],
        ["counters"] = ["Welkin.Core/Events/EventLog.cs"],
        ["events"] = ["Welkin.Core/Events/EventLog.cs"],
        ["machines"] = ["Welkin.Core/Instances/MachineStore.cs", "Welkin.Core/Instances/MachineStore.Instances.cs"],
        ["instances"] = ["Welkin.Core/Instances/MachineStore.cs", "Welkin.Core/Instances/MachineStore.Instances.cs"],
        ["jobs"] = ["Welkin.Core/Jobs/JobQueue.cs"],
        ["meter_state"] = ["Welkin.Core/Metering/Meter.cs"],
        ["meter_intervals"] = ["Welkin.Core/Metering/Meter.cs"],
        ["usage_records"] = ["Welkin.Core/Metering/UsageRecords.cs"],
        ["measurements_raw"] = ["Welkin.Core/Monitoring/MeasurementStore.cs"],
        ["measurements_1m"] = ["Welkin.Core/Monitoring/MeasurementStore.cs"],
        ["measurements_1h"] = ["Welkin.Core/Monitoring/MeasurementStore.cs"],
        ["scaling_policies"] = ["Welkin.Core/Scaling/ScalingPolicies.cs"],
        ["access_keys"] = ["Welkin.Core/Security/AccessKeys.cs"],
        ["principals"] = ["Welkin.Core/Security/SecurityManager.cs"],
        ["tokens"] = ["Welkin.Core/Security/SecurityManager.cs"],
        ["sla_evaluations"] = ["Welkin.Core/Sla/SlaStore.cs"],
        ["sla_credits"] = ["Welkin.Core/Sla/SlaStore.cs"],
        ["uploads"] = ["Welkin.Core/Uploads/UploadService.cs"],
        ["machine_packages"] = ["Welkin.Core/Catalog/MachinePackages.cs"],
        ["vaults"] = ["Welkin.Core/Vault/VaultStore.cs"],
        ["vault_classes"] = ["Welkin.Core/Vault/VaultStore.cs"],
        ["vault_records"] = ["Welkin.Core/Vault/VaultStore.cs"],
        ["vault_holds"] = ["Welkin.Core/Vault/VaultStore.cs"],
        ["vault_certificates"] = ["Welkin.Core/Vault/VaultStore.cs"],
        ["vault_tenant_keys"] = ["Welkin.Core/Vault/VaultKeys.cs"],
        ["vault_grants"] = ["Welkin.Core/Vault/VaultGrants.cs"],
        ["vault_uploads"] = ["Welkin.Core/Vault/RecordUploads.cs"],
        ["vault_upload_parts"] = ["Welkin.Core/Vault/RecordUploads.cs"],
        ["portal_sessions"] = ["Welkin.Server/Infrastructure/PortalSessionStore.cs"],
    };

    // Statements that must read another owner's table in the same statement, each with its reason.
    // Keep this list short: a read that can go through the owner does.
    private static readonly (string Table, string File, string Why)[] JoinedReads =
    [
        ("accounts", "Welkin.Core/Security/SecurityManager.cs",
            "authentication and login check a token, its principal and the principal's account in one read, so no state change slips between them"),
        ("principals", "Welkin.Core/Security/AccessKeys.cs",
            "an S3 request's authentication checks the access key, its principal and the principal's account in one read, as a token's does"),
        ("accounts", "Welkin.Core/Security/AccessKeys.cs",
            "an S3 request's authentication checks the access key, its principal and the principal's account in one read, as a token's does"),
        ("quotas", "Welkin.Core/Accounts/AccountStore.cs",
            "a change of limits is one conditional UPDATE that cannot put a limit below what the account's quota rows hold"),
    ];

    [Fact]
    public void EveryTableOfTheMigrations_HasAnOwner_AndEveryOwnedTableExists()
    {
        var tables = MigrationTables();

        tables.ShouldNotBeEmpty("the check found the migrations");
        tables.Where(t => !Owners.ContainsKey(t)).ShouldBeEmpty("a new table needs an owner in this map (and in docs/architecture.md)");
        Owners.Keys.Where(t => !tables.Contains(t)).ShouldBeEmpty("the map names tables no migration creates");
        Owners.Values.SelectMany(f => f).Distinct().Where(f => !File.Exists(Path.Combine(Src, f))).ShouldBeEmpty("owner files that do not exist");
    }

    [Fact]
    public void SqlNamingATable_AppearsOnlyInItsOwner()
    {
        var outside = new List<string>();
        foreach (var (file, table) in TableReferences())
        {
            if (!Owners.TryGetValue(table, out var owners) || owners.Contains(file) || JoinedReads.Any(j => j.Table == table && j.File == file))
            {
                continue;
            }
            outside.Add($"{file} names {table}; its owner is {string.Join(" + ", owners)}");
        }

        outside.Distinct().ShouldBeEmpty("a service of another room calls the table's owner instead of writing SQL against it");
    }

    [Fact]
    public void EveryJoinedRead_IsStillThere()
    {
        var references = TableReferences().ToHashSet();

        JoinedReads.Where(j => !references.Contains((j.File, j.Table))).Select(j => $"{j.File} / {j.Table}")
            .ShouldBeEmpty("an exception no statement needs any more is taken off the list");
    }

    [Fact]
    public void TheArchitectureDocument_ShowsEveryTableWithItsOwner()
    {
        var doc = File.ReadAllText(Path.Combine(Src, "..", "docs", "architecture.md"));
        var start = doc.IndexOf("## Who owns which table", StringComparison.Ordinal);
        start.ShouldBeGreaterThanOrEqualTo(0, "docs/architecture.md has the section");
        var end = doc.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? doc[start..] : doc[start..end];

        var missing = new List<string>();
        foreach (var (table, files) in Owners)
        {
            var row = section.Split('\n').FirstOrDefault(l => l.StartsWith('|') && l.Contains($"`{table}`", StringComparison.Ordinal));
            var owner = Path.GetFileNameWithoutExtension(files[0]);
            if (row is null || !row.Contains(owner, StringComparison.Ordinal))
            {
                missing.Add($"{table} ({owner})");
            }
        }
        missing.ShouldBeEmpty();
    }

    /// <summary>Every (file, table) where a statement names a table of the schema, over the sources of every project but Persistence.</summary>
    private static IEnumerable<(string File, string Table)> TableReferences()
    {
        var tables = MigrationTables();
        foreach (var path in Directory.EnumerateFiles(Src, "*.cs", SearchOption.AllDirectories))
        {
            var file = Path.GetRelativePath(Src, path).Replace('\\', '/');
            if (file.StartsWith("Welkin.Persistence/", StringComparison.Ordinal) || file.Contains("/obj/", StringComparison.Ordinal)
                || file.Contains("/bin/", StringComparison.Ordinal))
            {
                continue;
            }
            foreach (Match m in SqlTable().Matches(File.ReadAllText(path)))
            {
                if (tables.Contains(m.Groups["table"].Value))
                {
                    yield return (file, m.Groups["table"].Value);
                }
            }
        }
    }

    /// <summary>The tables the migrations create: by CREATE TABLE, or (for names built in code) by the indexes made on them.</summary>
    private static HashSet<string> MigrationTables()
    {
        var tables = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(Path.Combine(Src, "Welkin.Persistence", "Migrations"), "*.cs"))
        {
            var text = File.ReadAllText(path);
            foreach (Match m in CreatedTable().Matches(text))
            {
                tables.Add(m.Groups["table"].Value);
            }
            // A table rebuilt under a temporary name and renamed back is the table it replaces.
            foreach (Match m in RenamedTable().Matches(text))
            {
                tables.Remove(m.Groups["table"].Value);
            }
        }
        return tables;
    }

    private static string Src { get; } = Path.Combine(RepositoryRoot(), "src");

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Welkin.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Welkin.slnx not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\b(?:FROM|JOIN|INTO|UPDATE|DELETE\s+FROM)\s+(?<table>[a-z_][a-z0-9_]*)\b")]
    private static partial Regex SqlTable();

    [GeneratedRegex(@"\bCREATE\s+(?:TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?|(?:UNIQUE\s+)?INDEX\s+\w+\s+ON\s+)(?<table>[a-z_][a-z0-9_]*)\b")]
    private static partial Regex CreatedTable();

    [GeneratedRegex(@"\bALTER\s+TABLE\s+(?<table>[a-z_][a-z0-9_]*)\s+RENAME\s+TO\b")]
    private static partial Regex RenamedTable();
}
