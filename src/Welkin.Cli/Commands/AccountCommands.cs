using System.CommandLine;
using System.Globalization;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin account</c>: sign-up through the catalog, the provider's approval of pending accounts, and accounts' limits.</summary>
internal static class AccountCommands
{
    public static Command Create(CliApp app) => new("account", "Sign up for an account and manage accounts.")
    {
        SignUp(app), List(app), Show(app), Approve(app), Refuse(app), SetLimits(app), Quotas(app), Close(app),
    };

    public static void Fields(Output o, AccountView a) => o.Fields(
        ("Id", a.Id), ("Name", a.Name), ("Display name", a.DisplayName), ("State", Fmt.Name(a.State)),
        ("Limits", Fmt.Limits(a.Limits)), ("Version", Fmt.Number(a.Version)), ("Created", Fmt.Time(a.Created)), ("Updated", Fmt.Time(a.Updated)));

    private static Command SignUp(CliApp app)
    {
        var name = Opt.Required("--name", "The account's name (lowercase letters, digits, '-').", "name");
        var displayName = Opt.Required("--display-name", "The account's display name.", "text");
        var admin = new Option<string>("--admin") { Description = "Name of the account's first administrator.", HelpName = "name", DefaultValueFactory = _ => "admin" };
        var adminDisplay = Opt.Text("--admin-display-name", "The administrator's display name.", "text");
        var password = Opt.Flag("--password", "Prompt for a password for the administrator (to log in with later).");
        var stdin = Opt.Flag("--password-stdin", "Read the administrator's password from standard input.");
        var save = Opt.Flag("--save", "Store the administrator's token in the profile instead of printing it.");
        var command = new Command("sign-up", "Sign up a new account on the cloud; prints the administrator's token once.")
        {
            name, displayName, admin, adminDisplay, password, stdin, save,
        };
        app.Handle(command, async inv =>
        {
            var secret = inv.Value(password) || inv.Value(stdin) ? inv.ReadSecret(inv.Value(stdin), "Password: ", confirm: true) : null;
            var request = new SignUpRequest(inv.Value(name)!, inv.Value(displayName)!, new SignUpAdmin(inv.Value(admin)!, inv.Value(adminDisplay), secret));
            var profileName = inv.Value(save) ? inv.ProfileToStoreTokenIn().Name : null;
            var response = await inv.Client().Accounts.SignUpAsync(request, inv.Ct);
            if (profileName is not null)
            {
                var document = inv.Store.Load();
                document.Profiles[profileName] = document.Profiles[profileName] with { Token = response.Token.Secret, TokenFile = null };
                inv.Store.Save(document);
                inv.Err.WriteLine($"The administrator's token is stored in profile '{profileName}'.");
            }
            if (inv.Structured)
            {
                inv.Document(response);
                if (!inv.Value(save))
                {
                    inv.Err.WriteLine(TokenCommands.ShownOnceWarning);
                }
                return ExitCodes.Ok;
            }
            Fields(inv.Out, response.Account);
            inv.Out.Fields(("Administrator", $"{response.Admin.Name} ({response.Admin.Id})"), ("Token id", response.Token.Id));
            if (!inv.Value(save))
            {
                inv.Out.Fields(("Token", response.Token.Secret));
                inv.Err.WriteLine(TokenCommands.ShownOnceWarning);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var after = Opt.After();
        var limit = Opt.Limit();
        var state = Opt.Enum<AccountState>("--state", "Only accounts in this state; pending ones await the provider's approval");
        var command = new Command("list", "List accounts.") { after, limit, state };
        app.Handle(command, async inv =>
        {
            var page = await inv.Client().Accounts.ListAsync(inv.Value(after), inv.Value(limit),
                inv.Value(state) is { } s ? WireNames.Of(s) : null, inv.Ct);
            return inv.ShowPage(page, "No accounts.",
                new Column<AccountView>("Id", a => a.Id),
                new Column<AccountView>("Name", a => a.Name),
                new Column<AccountView>("Display name", a => a.DisplayName),
                new Column<AccountView>("State", a => Fmt.Name(a.State)),
                new Column<AccountView>("Limits", a => Fmt.Limits(a.Limits)));
        });
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("account");
        var command = new Command("show", "Show an account.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Accounts.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Approve(CliApp app)
    {
        var id = Opt.Id("account");
        var version = Opt.RowVersion();
        var command = new Command("approve", "Approve a pending account: its principals can log in and use it (provider admin).") { id, version };
        app.Handle(command, async inv =>
            inv.Show(await inv.Client().Accounts.ApproveAsync(inv.Value(id), new DecisionRequest(null, inv.Value(version)), inv.Ct), Fields));
        return command;
    }

    private static Command Refuse(CliApp app)
    {
        var id = Opt.Id("account");
        var reason = Opt.Required("--reason", "Why (recorded in the audit log).", "text");
        var version = Opt.RowVersion();
        var command = new Command("refuse", "Refuse a pending account; its name stays taken (provider admin).") { id, reason, version };
        app.Handle(command, async inv =>
            inv.Show(await inv.Client().Accounts.RefuseAsync(inv.Value(id), new DecisionRequest(inv.Value(reason), inv.Value(version)), inv.Ct), Fields));
        return command;
    }

    /// <summary><c>--limit UNIT=MAX</c>, repeatable.</summary>
    internal static Option<Dictionary<string, long>> LimitOption(string description) => new("--limit")
    {
        Description = description,
        HelpName = "unit=max",
        Required = true,
        CustomParser = r =>
        {
            var result = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var token in r.Tokens)
            {
                var parts = token.Value.Split('=', 2, StringSplitOptions.TrimEntries);
                if (parts.Length != 2 || parts[0].Length == 0 || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var max))
                {
                    r.AddError($"'{token.Value}' is not UNIT=MAX (for example compute-unit=25).");
                    continue;
                }
                result[parts[0]] = max;
            }
            return result;
        },
    };

    private static Command SetLimits(CliApp app)
    {
        var id = Opt.Id("account");
        var limits = LimitOption("A limit as UNIT=MAX, for example compute-unit=25; repeat for each unit. Replaces all limits.");
        var version = Opt.RowVersion();
        var command = new Command("set-limits", "Replace an account's limits.") { id, limits, version };
        app.Handle(command, async inv =>
        {
            var request = new SetLimitsRequest(inv.Value(limits)!, inv.Value(version));
            return inv.Show(await inv.Client().Accounts.SetLimitsAsync(inv.Value(id), request, inv.Ct), Fields);
        });
        return command;
    }

    private static Command Quotas(CliApp app)
    {
        var id = Opt.Id("account");
        var command = new Command("quotas", "Per unit: the account's limit, what its contracts hold (ordered) and what is provisioned.") { id };
        app.Handle(command, async inv =>
            inv.ShowList(await inv.Client().Contracts.QuotasAsync(inv.Value(id), inv.Ct), "No limits and no contracts.",
                new Column<QuotaView>("Unit", q => q.Unit),
                new Column<QuotaView>("Limit", q => Fmt.Number(q.Limit)),
                new Column<QuotaView>("Ordered", q => Fmt.Number(q.Ordered)),
                new Column<QuotaView>("Provisioned", q => Fmt.Number(q.Provisioned))));
        return command;
    }

    private static Command Close(CliApp app)
    {
        var id = Opt.Id("account");
        var version = Opt.RowVersion();
        var reason = Opt.Text("--reason", "Why (recorded in the audit log).", "text");
        var wait = Opt.Flag("--wait", "Wait until every contract of the account is terminated.");
        var command = new Command("close", "Close an account: terminate its contracts, disable its principals and revoke every token (including your own if it is yours).")
        {
            id, version, reason, wait,
        };
        app.Handle(command, async inv =>
        {
            var closed = await inv.Client().Contracts.CloseAccountAsync(inv.Value(id), new CloseAccountRequest(inv.Value(version), inv.Value(reason)), inv.Ct);
            inv.Show(closed, (o, c) =>
            {
                Fields(o, c.Account);
                o.Fields(("Terminated contracts", Fmt.List(c.TerminatedContracts)), ("Revoked tokens", Fmt.Number(c.RevokedTokens)), ("Job", c.Job?.Id));
            });
            // Closing one's own account revokes the token this command used, so waiting needs another principal's token.
            return inv.Value(wait) && closed.Job is { } job ? JobWaiter.ExitCode(await JobWaiter.WaitAsync(inv, job)) : ExitCodes.Ok;
        });
        return command;
    }
}
