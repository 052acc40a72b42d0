using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin role</c>, <c>welkin audit</c> and <c>welkin host</c>.</summary>
internal static class SecurityCommands
{
    public static Command Roles(CliApp app)
    {
        var list = new Command("list", "List the roles and their permissions.");
        app.Handle(list, async inv =>
        {
            var roles = await inv.Client().Roles.ListAsync(inv.Ct);
            return inv.ShowList(roles, "No roles.",
                new Column<RoleView>("Role", r => Fmt.Name(r.Role)),
                new Column<RoleView>("Scope", r => r.Scope),
                new Column<RoleView>("Permissions", r => Fmt.List(r.Permissions)));
        });
        return new Command("role", "The roles of the Security Manager.") { list };
    }

    public static Command Audit(CliApp app)
    {
        var account = Opt.Text("--account", "Only this account's entries.", "id");
        var after = Opt.LongNumber("--after", "Entries after this sequence number (printed when there are more).", "seq");
        var limit = Opt.Limit();
        var list = new Command("list", "List audit entries, oldest first.") { account, after, limit };
        app.Handle(list, async inv =>
        {
            var page = await inv.Client().Audit.ListAsync(inv.Value(account), inv.Value(after), inv.Value(limit), inv.Ct);
            return inv.ShowPage(page, "No audit entries.",
                new Column<AuditEntryView>("Seq", e => Fmt.Number(e.Seq)),
                new Column<AuditEntryView>("At", e => Fmt.Time(e.At)),
                new Column<AuditEntryView>("Actor", e => e.Actor),
                new Column<AuditEntryView>("Action", e => e.Action),
                new Column<AuditEntryView>("Outcome", e => e.Outcome),
                new Column<AuditEntryView>("Target", e => e.Target),
                new Column<AuditEntryView>("Detail", e => e.Detail));
        });

        var verify = new Command("verify", "Check the audit log's hash chain, entry seals and signed checkpoints (exit 1 when it is broken).");
        app.Handle(verify, async inv =>
        {
            var result = await inv.Client().Audit.VerifyAsync(inv.Ct);
            inv.Show(result, (o, v) => o.Fields(
                ("Valid", v.Valid ? "yes" : "NO"),
                ("Entries", Fmt.Number(v.Entries)),
                ("Head hash", v.HeadHash),
                ("Checkpoints", Fmt.Number(v.Checkpoints)),
                ("Last checkpoint", Fmt.Number(v.LastCheckpointSeq)),
                ("Seals checked", v.SealsChecked ? "yes" : "no"),
                ("First invalid entry", Fmt.Number(v.FirstInvalidSeq)),
                ("Problem", v.Problem)));
            if (!result.Valid)
            {
                inv.Err.WriteLine($"Error: the audit log is broken{(result.FirstInvalidSeq is { } seq ? $" at entry {seq}" : "")}:");
                foreach (var finding in result.Findings)
                {
                    inv.Err.WriteLine($"  {finding.Code}: {finding.Detail}");
                }
                return ExitCodes.ApiProblem;
            }
            return ExitCodes.Ok;
        });
        return new Command("audit", "Read and verify the hash-chained audit log.") { list, verify, Checkpoint(app), Checkpoints(app) };
    }

    private static Command Checkpoint(CliApp app)
    {
        var checkpoint = new Command("checkpoint", "Have the server sign the audit log's head now (a signed checkpoint, outside the database).");
        app.Handle(checkpoint, async inv =>
        {
            var created = await inv.Client().Audit.CheckpointAsync(inv.Ct);
            inv.Show(created, (o, c) => o.Fields(
                ("Checkpoint", Fmt.Number(c.Number)),
                ("Entry", Fmt.Number(c.Seq)),
                ("Hash", c.Hash),
                ("At", Fmt.Time(c.At)),
                ("Key", c.KeyId)));
            return ExitCodes.Ok;
        });
        return checkpoint;
    }

    private static Command Checkpoints(CliApp app)
    {
        var after = Opt.LongNumber("--after", "Checkpoints after this number (printed when there are more).", "n");
        var limit = Opt.Limit();
        var list = new Command("checkpoints", "List the signed checkpoints of the audit log, oldest first.") { after, limit };
        app.Handle(list, async inv =>
        {
            var page = await inv.Client().Audit.ListCheckpointsAsync(inv.Value(after), inv.Value(limit), inv.Ct);
            return inv.ShowPage(page, "No checkpoints.",
                new Column<AuditCheckpointView>("Number", c => Fmt.Number(c.Number)),
                new Column<AuditCheckpointView>("Entry", c => Fmt.Number(c.Seq)),
                new Column<AuditCheckpointView>("At", c => Fmt.Time(c.At)),
                new Column<AuditCheckpointView>("Hash", c => c.Hash),
                new Column<AuditCheckpointView>("Key", c => c.KeyId));
        });
        return list;
    }

    public static Command Hosts(CliApp app)
    {
        var list = new Command("list", "List the hosts of the compute fabric.");
        app.Handle(list, async inv =>
        {
            var hosts = await inv.Client().Fabric.ListHostsAsync(inv.Ct);
            return inv.ShowList(hosts, "No hosts.",
                new Column<HostView>("Name", h => h.Name),
                new Column<HostView>("Region", h => h.Region),
                new Column<HostView>("Jurisdiction", h => h.Jurisdiction),
                new Column<HostView>("Cores", h => Fmt.Number(h.Cores)),
                new Column<HostView>("Memory", h => Fmt.Bytes(h.MemoryMiB * 1024 * 1024)),
                new Column<HostView>("Disk", h => Fmt.Bytes(h.DiskGiB * 1024 * 1024 * 1024)),
                new Column<HostView>("Fabric", h => h.Fabric),
                new Column<HostView>("Pool", h => h.Pool));
        });
        return new Command("host", "The compute fabric's hosts.") { list };
    }
}
