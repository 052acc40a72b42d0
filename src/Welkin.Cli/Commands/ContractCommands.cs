using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin contract</c>: request, accept, amend and terminate contracts.</summary>
internal static class ContractCommands
{
    public static Command Create(CliApp app) => new("contract", "Request contracts for catalog offerings and manage them.")
    {
        Request(app), List(app), Show(app), Transition(app, "accept", "Accept a proposal: the contract becomes active."),
        Transition(app, "reject", "Reject a proposal; its units go back to the account."), Amend(app), Revisions(app), Terminate(app),
        InvoiceCommands.PricePlans(app),
    };

    private static readonly Column<ContractView>[] ListColumns =
    [
        new("Id", c => c.Id),
        new("Name", c => c.Name),
        new("State", c => Fmt.Name(c.State)),
        new("Revision", c => Fmt.Number(c.Revision)),
        new("Lines", c => string.Join(", ", c.Items.Select(i => $"{i.OfferingName} x{i.Quantity}"))),
        new("Term", c => $"{c.TermMonths} mo"),
        new("Expires", c => Fmt.Time(c.ProposalExpires)),
    ];

    public static void Fields(Output o, ContractView c)
    {
        o.Fields(
            ("Id", c.Id), ("Account", c.AccountId), ("Name", c.Name), ("State", Fmt.Name(c.State)), ("Revision", Fmt.Number(c.Revision)),
            ("Term", $"{c.TermMonths} months"), ("Requested by", c.RequestedBy), ("Proposal expires", Fmt.Time(c.ProposalExpires)),
            ("Accepted", Fmt.Time(c.Accepted)), ("Term ends", Fmt.Time(c.TermEnds)), ("Terminated", Fmt.Time(c.Terminated)),
            ("Version", Fmt.Number(c.Version)), ("Created", Fmt.Time(c.Created)), ("Updated", Fmt.Time(c.Updated)));
        o.Line();
        o.Table(c.Items.Select(i => (Item: i, Use: c.Usage.FirstOrDefault(u => u.Item == i.Item))).ToList(), "No lines.",
            new Column<(ContractItem Item, ContractItemUsage? Use)>("Item", l => Fmt.Number(l.Item.Item)),
            new Column<(ContractItem Item, ContractItemUsage? Use)>("Offering", l => $"{l.Item.OfferingName} ({l.Item.OfferingId})"),
            new Column<(ContractItem Item, ContractItemUsage? Use)>("Kind", l => Fmt.Name(l.Item.Kind)),
            new Column<(ContractItem Item, ContractItemUsage? Use)>("Quantity", l => Fmt.Number(l.Item.Quantity)),
            new Column<(ContractItem Item, ContractItemUsage? Use)>("Provisioned", l => Fmt.Number(l.Use?.Provisioned ?? 0)),
            new Column<(ContractItem Item, ContractItemUsage? Use)>("Unit", l => l.Item.LimitUnit),
            new Column<(ContractItem Item, ContractItemUsage? Use)>("Prices", l => string.Join("; ", l.Item.PricePlan.Rates.Select(r =>
                $"{r.Metric} {Fmt.Number(r.Price)} {l.Item.PricePlan.Currency}/{r.Unit}"))),
            new Column<(ContractItem Item, ContractItemUsage? Use)>("SLA", l => Fmt.Number(l.Item.Sla.AvailabilityPercent) + "%"));
    }

    private static Option<string[]> Offerings(bool required) => new("--offering")
    {
        Description = "An offering to contract for; repeat with a --quantity for each.",
        HelpName = "id",
        Required = required,
        AllowMultipleArgumentsPerToken = false,
    };

    private static Option<int[]> Quantities(bool required) => new("--quantity")
    {
        Description = "Machines (compute) or increments (storage) of the --offering before it.",
        HelpName = "n",
        Required = required,
        AllowMultipleArgumentsPerToken = false,
        CustomParser = Opt.WholeNumbers,
    };

    private static List<ContractItemRequest> Lines(Invocation inv, Option<string[]> offerings, Option<int[]> quantities)
    {
        var ids = inv.Value(offerings) ?? [];
        var counts = inv.Value(quantities) ?? [];
        if (ids.Length != counts.Length)
        {
            throw new CliException($"Give one --quantity for each --offering ({ids.Length} offerings, {counts.Length} quantities).");
        }
        return ids.Zip(counts, (id, n) => new ContractItemRequest(id, n)).ToList();
    }

    private static Command Request(CliApp app)
    {
        var offerings = Offerings(required: true);
        var quantities = Quantities(required: true);
        var term = Opt.Number("--term-months", "Length of the term in months (default: the offerings' longest minimum period).");
        var name = Opt.Text("--name", "A name for the contract.", "text");
        var command = new Command("request", "Request a contract; the answer is a proposal to accept before it expires.") { offerings, quantities, term, name };
        app.Handle(command, async inv =>
        {
            var request = new ContractRequest(Lines(inv, offerings, quantities), inv.Value(name), inv.Value(term));
            return inv.Show(await inv.Client().Contracts.RequestAsync(request, inv.Ct), Fields);
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var state = Opt.Enum<ContractState>("--state", "Only contracts in this state");
        var account = Opt.Text("--account", "Only this account's contracts (provider roles).", "id");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List contracts.") { state, account, after, limit };
        app.Handle(command, async inv =>
        {
            var filter = inv.Value(state) is { } s ? Fmt.Name(s) : null;
            var page = await inv.Client().Contracts.ListAsync(filter, inv.Value(account), inv.Value(after), inv.Value(limit), inv.Ct);
            return inv.ShowPage(page, "No contracts.", ListColumns);
        });
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("contract");
        var command = new Command("show", "Show a contract with its lines and their use.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Contracts.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Transition(CliApp app, string verb, string description)
    {
        var id = Opt.Id("contract");
        var version = Opt.RowVersion();
        var reason = Opt.Text("--reason", "Why (recorded in the audit log).", "text");
        var command = new Command(verb, description) { id, version, reason };
        app.Handle(command, async inv =>
        {
            var request = new ContractTransitionRequest(inv.Value(version), inv.Value(reason));
            var contracts = inv.Client().Contracts;
            var result = verb == "accept"
                ? await contracts.AcceptAsync(inv.Value(id), request, inv.Ct)
                : await contracts.RejectAsync(inv.Value(id), request, inv.Ct);
            return inv.Show(result, Fields);
        });
        return command;
    }

    private static Command Amend(CliApp app)
    {
        var id = Opt.Id("contract");
        var offerings = Offerings(required: false);
        var quantities = Quantities(required: false);
        var term = Opt.Number("--term-months", "A new term in months.");
        var name = Opt.Text("--name", "A new name.", "text");
        var reason = Opt.Text("--reason", "Why (kept in the contract's revisions).", "text");
        var version = Opt.RowVersion();
        var command = new Command("amend", "Change quantities (by offering), add lines, or change the term or name of an active contract.")
        {
            id, offerings, quantities, term, name, reason, version,
        };
        app.Handle(command, async inv =>
        {
            var lines = Lines(inv, offerings, quantities);
            var request = new ContractAmendmentRequest(lines.Count == 0 ? null : lines, inv.Value(term), inv.Value(name), inv.Value(reason), inv.Value(version));
            return inv.Show(await inv.Client().Contracts.AmendAsync(inv.Value(id), request, inv.Ct), Fields);
        });
        return command;
    }

    private static Command Revisions(CliApp app)
    {
        var id = Opt.Id("contract");
        var command = new Command("revisions", "Show the contract's history: every revision, who made it and why.") { id };
        app.Handle(command, async inv =>
            inv.ShowList(await inv.Client().Contracts.RevisionsAsync(inv.Value(id), inv.Ct), "No revisions.",
                new Column<ContractRevisionView>("Revision", r => Fmt.Number(r.Revision)),
                new Column<ContractRevisionView>("Lines", r => string.Join(", ", r.Items.Select(i => $"{i.OfferingName} x{i.Quantity}"))),
                new Column<ContractRevisionView>("Term", r => $"{r.TermMonths} mo"),
                new Column<ContractRevisionView>("Changed by", r => r.ChangedBy),
                new Column<ContractRevisionView>("Reason", r => r.Reason),
                new Column<ContractRevisionView>("At", r => Fmt.Time(r.Created))));
        return command;
    }

    private static Command Terminate(CliApp app)
    {
        var id = Opt.Id("contract");
        var version = Opt.RowVersion();
        var reason = Opt.Text("--reason", "Why (recorded in the audit log).", "text");
        var wait = Opt.Flag("--wait", "Wait until the contract's resources are released and it is terminated.");
        var command = new Command("terminate", "Terminate a contract: its resources are released and its units returned.") { id, version, reason, wait };
        app.Handle(command, async inv =>
        {
            var accepted = await inv.Client().Contracts.TerminateAsync(inv.Value(id), new ContractTransitionRequest(inv.Value(version), inv.Value(reason)), inv.Ct);
            if (!inv.Value(wait))
            {
                return inv.Show(accepted, (o, a) =>
                {
                    Fields(o, a.Resource);
                    o.Line();
                    o.Fields(("Job", a.Job.Id), ("Job state", Fmt.Name(a.Job.State)));
                });
            }
            var job = await JobWaiter.WaitAsync(inv, accepted.Job);
            var contract = await inv.Client().Contracts.GetAsync(accepted.Resource.Id, inv.Ct);
            inv.Show(contract, Fields);
            return JobWaiter.ExitCode(job);
        });
        return command;
    }
}
