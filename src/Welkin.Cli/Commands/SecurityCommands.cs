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

        var verify = new Command("verify", "Recompute the audit log's hash chain (exit 1 when it is broken).");
        app.Handle(verify, async inv =>
        {
            var result = await inv.Client().Audit.VerifyAsync(inv.Ct);
            inv.Show(result, (o, v) => o.Fields(
                ("Valid", v.Valid ? "yes" : "NO"),
                ("Entries", Fmt.Number(v.Entries)),
                ("Head hash", v.HeadHash),
                ("First invalid entry", Fmt.Number(v.FirstInvalidSeq)),
                ("Problem", v.Problem)));
            if (!result.Valid)
            {
                inv.Err.WriteLine($"Error: the audit log is broken at entry {result.FirstInvalidSeq}: {result.Problem}");
                return ExitCodes.ApiProblem;
            }
            return ExitCodes.Ok;
        });
        return new Command("audit", "Read and verify the hash-chained audit log.") { list, verify };
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
