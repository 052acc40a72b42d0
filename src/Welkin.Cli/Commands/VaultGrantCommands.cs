using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin vault grant</c>: regulators' grants on a vault's records and their signed links.</summary>
internal static class VaultGrantCommands
{
    public static Command Create(CliApp app) => new("grant", "Grants of vault records to regulators, and their signed, expiring links.")
    {
        Give(app), List(app), Revoke(app), Links(app),
    };

    private static readonly Column<VaultGrantView>[] Columns =
    [
        new("Id", g => g.Id),
        new("Vault", g => g.VaultId),
        new("Regulator", g => g.RegulatorId),
        new("Records", g => g.RecordIds is null ? $"key prefix '{g.KeyPrefix}'" + (g.ClassName is null ? "" : $" class {g.ClassName}") : Fmt.Number(g.RecordIds.Count)),
        new("By", g => g.ByProvider ? "provider" : "account"),
        new("Expires", g => Fmt.Time(g.Expires)),
        new("State", g => Fmt.Name(g.State)),
    ];

    private static void Fields(Output o, VaultGrantView g) =>
        o.Fields(("Id", g.Id), ("Account", g.AccountId), ("Vault", g.VaultId), ("Regulator", g.RegulatorId), ("Records", Fmt.List(g.RecordIds)),
            ("Key prefix", g.KeyPrefix), ("Class", g.ClassName), ("Granted by", g.GrantedBy + (g.ByProvider ? " (provider)" : "")), ("Legal basis", g.LegalBasis),
            ("State", Fmt.Name(g.State)), ("Created", Fmt.Time(g.Created)), ("Expires", Fmt.Time(g.Expires)), ("Revoked", Fmt.Time(g.Revoked)));

    private static Command Give(CliApp app)
    {
        var vault = Opt.Id("vault");
        var regulator = Opt.Required("--regulator", "The regulator's principal id.", "id");
        var until = Opt.Time("--until", "When the grant ends (required).");
        var records = Opt.Text("--records", "Comma-separated record ids (instead of a query).", "ids");
        var prefix = Opt.Text("--key-prefix", "Every record whose key starts with this.", "prefix");
        var className = Opt.Text("--class", "Only records of this retention class.", "class");
        var legalBasis = Opt.Text("--legal-basis", "The legal process (order, court, reference); required of the provider.", "text");
        var command = new Command("create", "Grant a regulator a vault's records until a time.") { vault, regulator, until, records, prefix, className, legalBasis };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.CreateGrantAsync(new CreateVaultGrantRequest(inv.Value(vault), inv.Value(regulator)!,
            inv.Value(until) ?? throw new CliException("--until is required."), Ids(inv.Value(records)), inv.Value(prefix), inv.Value(className), inv.Value(legalBasis)),
            inv.Ct), Fields));
        return command;
    }

    private static Command List(CliApp app)
    {
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List grants: the account's on its data, a regulator's to it.") { after, limit };
        app.Handle(command, async inv => inv.ShowPage(await inv.Client().Vaults.GrantsAsync(inv.Value(after), inv.Value(limit), inv.Ct), "No grants.", Columns));
        return command;
    }

    private static Command Revoke(CliApp app)
    {
        var grant = Opt.Id("grant");
        var command = new Command("revoke", "Revoke a grant; its links stop working at once.") { grant };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.RevokeGrantAsync(inv.Value(grant), inv.Ct), Fields));
        return command;
    }

    private static Command Links(CliApp app)
    {
        var grant = Opt.Id("grant");
        var records = Opt.Text("--records", "Comma-separated record ids (default: every record the grant covers).", "ids");
        var lifetime = Opt.Number("--lifetime", "Seconds the links live (default 300, at most 3600).");
        var command = new Command("links", "Signed, expiring links to a grant's records (the grant's regulator).") { grant, records, lifetime };
        app.Handle(command, async inv => inv.ShowList((await inv.Client().Vaults.GrantLinksAsync(inv.Value(grant),
                new CreateVaultGrantLinksRequest(Ids(inv.Value(records)), inv.Value(lifetime)), inv.Ct)).Links, "No records.",
            new Column<VaultGrantLink>("Record", l => l.RecordId), new Column<VaultGrantLink>("Key", l => l.Key),
            new Column<VaultGrantLink>("Expires", l => Fmt.Time(l.Expires)), new Column<VaultGrantLink>("URL", l => new Uri(inv.Client().Endpoint, l.Url.TrimStart('/')).AbsoluteUri)));
        return command;
    }

    private static List<string>? Ids(string? text) =>
        text is null ? null : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
