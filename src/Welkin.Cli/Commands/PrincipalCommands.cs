using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin principal</c>: people and services, and their roles.</summary>
internal static class PrincipalCommands
{
    public static Command Create(CliApp app) => new("principal", "Manage principals (people and services) and their roles.")
    {
        CreatePrincipal(app), List(app), Show(app), Update(app), SetState(app, "disable", PrincipalState.Disabled), SetState(app, "enable", PrincipalState.Active),
    };

    public static void Fields(Output o, PrincipalView p) => o.Fields(
        ("Id", p.Id), ("Name", p.Name), ("Display name", p.DisplayName), ("Kind", Fmt.Name(p.Kind)),
        ("Account", p.AccountId ?? "provider"), ("Roles", Fmt.List(p.Roles.Select(Fmt.Name))), ("State", Fmt.Name(p.State)),
        ("Password", p.HasPassword ? "set" : "none"), ("Version", Fmt.Number(p.Version)), ("Created", Fmt.Time(p.Created)), ("Updated", Fmt.Time(p.Updated)));

    private static Command CreatePrincipal(CliApp app)
    {
        var name = Opt.Required("--name", "The principal's name, unique in its account.", "name");
        var roles = Opt.EnumList<Role>("--role", "A role to grant");
        roles.Required = true;
        var displayName = Opt.Text("--display-name", "Display name.", "text");
        var kind = Opt.Enum<PrincipalKind>("--kind", "Person or service");
        var account = Opt.Text("--account", "The account to create it in (provider principals only; default: your own account).", "id");
        var password = Opt.Flag("--password", "Prompt for a password the principal logs in with.");
        var stdin = Opt.Flag("--password-stdin", "Read the password from standard input.");
        var command = new Command("create", "Create a principal with roles.") { name, roles, displayName, kind, account, password, stdin };
        app.Handle(command, async inv =>
        {
            var secret = inv.Value(password) || inv.Value(stdin) ? inv.ReadSecret(inv.Value(stdin), "Password: ", confirm: true) : null;
            var request = new CreatePrincipalRequest(inv.Value(name)!, inv.Value(roles)!, inv.Value(displayName),
                inv.Value(kind) ?? PrincipalKind.Person, secret, inv.Value(account));
            return inv.Show(await inv.Client().Principals.CreateAsync(request, inv.Ct), Fields);
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var account = Opt.Text("--account", "Only this account's principals.", "id");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List principals.") { account, after, limit };
        app.Handle(command, async inv =>
        {
            var page = await inv.Client().Principals.ListAsync(inv.Value(account), inv.Value(after), inv.Value(limit), inv.Ct);
            return inv.ShowPage(page, "No principals.",
                new Column<PrincipalView>("Id", p => p.Id),
                new Column<PrincipalView>("Name", p => p.Name),
                new Column<PrincipalView>("Kind", p => Fmt.Name(p.Kind)),
                new Column<PrincipalView>("Account", p => p.AccountId ?? "provider"),
                new Column<PrincipalView>("State", p => Fmt.Name(p.State)),
                new Column<PrincipalView>("Roles", p => Fmt.List(p.Roles.Select(Fmt.Name))));
        });
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("principal");
        var command = new Command("show", "Show a principal.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Principals.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Update(CliApp app)
    {
        var id = Opt.Id("principal");
        var roles = Opt.EnumList<Role>("--role", "Replace the roles with these");
        var displayName = Opt.Text("--display-name", "New display name.", "text");
        var password = Opt.Flag("--password", "Prompt for a new password.");
        var stdin = Opt.Flag("--password-stdin", "Read a new password from standard input.");
        var version = Opt.RowVersion();
        var command = new Command("update", "Change a principal's roles, display name or password.") { id, roles, displayName, password, stdin, version };
        app.Handle(command, async inv =>
        {
            var newRoles = inv.Parse.GetResult(roles) is null ? null : inv.Value(roles);
            var secret = inv.Value(password) || inv.Value(stdin) ? inv.ReadSecret(inv.Value(stdin), "New password: ", confirm: true) : null;
            if (newRoles is null && inv.Value(displayName) is null && secret is null)
            {
                throw new CliException("Nothing to change: give --role, --display-name or --password.");
            }
            var request = new UpdatePrincipalRequest(newRoles, inv.Value(displayName), null, secret, inv.Value(version));
            return inv.Show(await inv.Client().Principals.UpdateAsync(inv.Value(id), request, inv.Ct), Fields);
        });
        return command;
    }

    private static Command SetState(CliApp app, string verb, PrincipalState state)
    {
        var id = Opt.Id("principal");
        var version = Opt.RowVersion();
        var description = state == PrincipalState.Disabled
            ? "Disable a principal: its tokens and password stop working until it is enabled again."
            : "Enable a disabled principal.";
        var command = new Command(verb, description) { id, version };
        app.Handle(command, async inv =>
        {
            var request = new UpdatePrincipalRequest(State: state, Version: inv.Value(version));
            return inv.Show(await inv.Client().Principals.UpdateAsync(inv.Value(id), request, inv.Ct), Fields);
        });
        return command;
    }
}
