using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin limit-request</c>: limits above the provider's self-service ceiling, asked for by an account-admin and decided by a provider admin.</summary>
internal static class LimitRequestCommands
{
    public static Command Create(CliApp app) => new("limit-request", "Ask the provider for limits above the self-service ceiling, and decide on such requests.")
    {
        New(app), List(app), Show(app), Approve(app), Refuse(app),
    };

    private static void Fields(Output o, LimitRequestView r) => o.Fields(
        ("Id", r.Id), ("Account", r.AccountId), ("Limits", Fmt.Limits(r.Limits)), ("Reason", r.Reason), ("State", Fmt.Name(r.State)),
        ("Requested by", r.RequestedBy), ("Created", Fmt.Time(r.Created)), ("Decided by", r.DecidedBy), ("Decided", r.Decided is { } d ? Fmt.Time(d) : null),
        ("Decision reason", r.DecisionReason), ("Version", Fmt.Number(r.Version)));

    private static Command New(CliApp app)
    {
        var limits = AccountCommands.LimitOption("A limit asked for, as UNIT=MAX (for example compute-unit=100); repeat for each unit. Other units keep their limits.");
        var reason = Opt.Required("--reason", "Why the account needs it.", "text");
        var command = new Command("create", "Ask the provider for limits above the ceiling (account-admin).") { limits, reason };
        app.Handle(command, async inv =>
            inv.Show(await inv.Client().Accounts.RequestLimitsAsync(new CreateLimitRequest(inv.Value(limits)!, inv.Value(reason)!), inv.Ct), Fields));
        return command;
    }

    private static Command List(CliApp app)
    {
        var account = Opt.Text("--account", "Only this account's requests (provider principals).", "id");
        var state = Opt.Enum<LimitRequestState>("--state", "Only requests in this state");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List limit requests: an account principal its own account's, a provider principal every account's.") { account, state, after, limit };
        app.Handle(command, async inv =>
        {
            var page = await inv.Client().Accounts.ListLimitRequestsAsync(inv.Value(account), inv.Value(state) is { } s ? WireNames.Of(s) : null,
                inv.Value(after), inv.Value(limit), inv.Ct);
            return inv.ShowPage(page, "No limit requests.",
                new Column<LimitRequestView>("Id", r => r.Id),
                new Column<LimitRequestView>("Account", r => r.AccountId),
                new Column<LimitRequestView>("Limits", r => Fmt.Limits(r.Limits)),
                new Column<LimitRequestView>("State", r => Fmt.Name(r.State)),
                new Column<LimitRequestView>("Reason", r => r.Reason));
        });
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("limit request");
        var command = new Command("show", "Show a limit request and its decision.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Accounts.GetLimitRequestAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Approve(CliApp app)
    {
        var id = Opt.Id("limit request");
        var version = Opt.RowVersion();
        var command = new Command("approve", "Approve a limit request: its limits are applied to the account (provider admin).") { id, version };
        app.Handle(command, async inv =>
            inv.Show(await inv.Client().Accounts.ApproveLimitRequestAsync(inv.Value(id), new DecisionRequest(null, inv.Value(version)), inv.Ct), Fields));
        return command;
    }

    private static Command Refuse(CliApp app)
    {
        var id = Opt.Id("limit request");
        var reason = Opt.Required("--reason", "Why (the requester reads it).", "text");
        var version = Opt.RowVersion();
        var command = new Command("refuse", "Refuse a limit request (provider admin).") { id, reason, version };
        app.Handle(command, async inv =>
            inv.Show(await inv.Client().Accounts.RefuseLimitRequestAsync(inv.Value(id), new DecisionRequest(inv.Value(reason), inv.Value(version)), inv.Ct), Fields));
        return command;
    }
}
