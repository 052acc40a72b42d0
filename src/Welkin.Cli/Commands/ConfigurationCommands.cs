using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin volume</c>: block volumes from storage contracts, attached to machines.</summary>
internal static class VolumeCommands
{
    public static Command Create(CliApp app) => new("volume", "Volumes from storage contract lines: create, attach to machines, detach, delete.")
    {
        CreateVolume(app), List(app), Show(app), Attach(app), Detach(app), Delete(app),
    };

    private static readonly Column<VolumeView>[] ListColumns =
    [
        new("Id", v => v.Id),
        new("Name", v => v.Name),
        new("Size GiB", v => Fmt.Number(v.SizeGiB)),
        new("State", v => Fmt.Name(v.State)),
        new("Machine", v => v.MachineId),
        new("Device", v => v.Device),
        new("Contract", v => $"{v.ContractId} item {v.Item}"),
    ];

    public static void Fields(Output o, VolumeView v) =>
        o.Fields(("Id", v.Id), ("Account", v.AccountId), ("Name", v.Name), ("Size GiB", Fmt.Number(v.SizeGiB)), ("State", Fmt.Name(v.State)),
            ("Contract", $"{v.ContractId} item {v.Item}"), ("Machine", v.MachineId), ("Device", v.Device),
            ("Applied", v.MachineId is null ? null : v.Applied ? "yes" : "at the machine's next start"), ("Version", Fmt.Number(v.Version)),
            ("Created", Fmt.Time(v.Created)), ("Updated", Fmt.Time(v.Updated)), ("Deleted", Fmt.Time(v.Deleted)));

    private static Command CreateVolume(CliApp app)
    {
        var contract = Opt.Required("--contract", "The active contract with a storage line.", "id");
        var size = new Option<long>("--size") { Description = "Size in GiB: a multiple of the line's increment (100 GiB in the white paper).", Required = true, HelpName = "GiB", CustomParser = Opt.LongWholeNumber };
        var name = Opt.Text("--name", "A name for the volume.", "name");
        var item = Opt.Number("--item", "The contract line (default: the first storage line).");
        var command = new Command("create", "Create a volume from a storage line of an active contract.") { contract, size, name, item };
        app.Handle(command, async inv => inv.Show(
            await inv.Client().Volumes.CreateAsync(new CreateVolumeRequest(inv.Value(contract)!, inv.Value(size), inv.Value(name), inv.Value(item)), inv.Ct), Fields));
        return command;
    }

    private static Command List(CliApp app)
    {
        var contract = Opt.Text("--contract", "Only volumes of this contract.", "id");
        var machine = Opt.Text("--machine", "Only volumes attached to this machine.", "id");
        var state = Opt.Enum<VolumeState>("--state", "Only volumes in this state (deleted ones only this way)");
        var account = Opt.Text("--account", "Only this account's volumes (provider roles).", "id");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List volumes.") { contract, machine, state, account, after, limit };
        app.Handle(command, async inv => inv.ShowPage(
            await inv.Client().Volumes.ListAsync(inv.Value(contract), inv.Value(machine), inv.Value(state), inv.Value(account), inv.Value(after), inv.Value(limit), inv.Ct),
            "No volumes.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("volume");
        var command = new Command("show", "Show a volume.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Volumes.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Attach(CliApp app)
    {
        var id = Opt.Id("volume");
        var machine = Opt.Required("--machine", "The machine to attach to (same account).", "id");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the volume is attached.");
        var command = new Command("attach", "Attach a volume to a machine (hot-plug when the fabric can, otherwise at its next start).") { id, machine, version, wait };
        app.Handle(command, async inv => await Jobs.FinishAsync(inv,
            await inv.Client().Volumes.AttachAsync(inv.Value(id), new AttachVolumeRequest(inv.Value(machine)!, inv.Value(version)), inv.Ct), inv.Value(wait), Fields));
        return command;
    }

    private static Command Detach(CliApp app)
    {
        var id = Opt.Id("volume");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the volume is detached.");
        var command = new Command("detach", "Detach a volume from its machine.") { id, version, wait };
        app.Handle(command, async inv => await Jobs.FinishAsync(inv,
            await inv.Client().Volumes.DetachAsync(inv.Value(id), new DetachVolumeRequest(inv.Value(version)), inv.Ct), inv.Value(wait), Fields));
        return command;
    }

    private static Command Delete(CliApp app)
    {
        var id = Opt.Id("volume");
        var version = Opt.RowVersion();
        var command = new Command("delete", "Delete a detached volume; its increments go back to the contract line.") { id, version };
        app.Handle(command, async inv => inv.Show(await inv.Client().Volumes.DeleteAsync(inv.Value(id), inv.Value(version), inv.Ct), Fields));
        return command;
    }
}

/// <summary><c>welkin network</c>: tenant networks and the machines connected to them.</summary>
internal static class NetworkCommands
{
    public static Command Create(CliApp app) => new("network", "Tenant networks: create, connect and disconnect machines, delete.")
    {
        CreateNetwork(app), List(app), Show(app), Connect(app), Disconnect(app), Delete(app),
    };

    private static readonly Column<NetworkView>[] ListColumns =
    [
        new("Id", n => n.Id),
        new("Name", n => n.Name),
        new("CIDR", n => n.Cidr),
        new("State", n => Fmt.Name(n.State)),
        new("Machines", n => Fmt.Number(n.Attachments.Count)),
        new("Created", n => Fmt.Time(n.Created)),
    ];

    public static void Fields(Output o, NetworkView n)
    {
        o.Fields(("Id", n.Id), ("Account", n.AccountId), ("Name", n.Name), ("CIDR", n.Cidr), ("Gateway", n.Gateway), ("State", Fmt.Name(n.State)),
            ("Version", Fmt.Number(n.Version)), ("Created", Fmt.Time(n.Created)), ("Updated", Fmt.Time(n.Updated)));
        o.Line();
        o.Table(n.Attachments, "No machines connected.",
            new Column<NetworkAttachmentView>("Machine", a => a.MachineId),
            new Column<NetworkAttachmentView>("Address", a => a.Address),
            new Column<NetworkAttachmentView>("MAC", a => a.Mac),
            new Column<NetworkAttachmentView>("State", a => Fmt.Name(a.State)),
            new Column<NetworkAttachmentView>("Applied", a => a.Applied ? "yes" : "at next start"));
    }

    private static Command CreateNetwork(CliApp app)
    {
        var name = Opt.Required("--name", "The network's name, unique in the account.", "name");
        var cidr = Opt.Text("--cidr", "IPv4 network /16 to /29 (default 10.0.0.0/24); must not overlap the account's other networks.", "cidr");
        var command = new Command("create", "Create a tenant network.") { name, cidr };
        app.Handle(command, async inv => inv.Show(await inv.Client().Networks.CreateAsync(new CreateNetworkRequest(inv.Value(name)!, inv.Value(cidr)), inv.Ct), Fields));
        return command;
    }

    private static Command List(CliApp app)
    {
        var state = Opt.Enum<NetworkState>("--state", "Only networks in this state (deleted ones only this way)");
        var account = Opt.Text("--account", "Only this account's networks (provider roles).", "id");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List networks.") { state, account, after, limit };
        app.Handle(command, async inv => inv.ShowPage(
            await inv.Client().Networks.ListAsync(inv.Value(state), inv.Value(account), inv.Value(after), inv.Value(limit), inv.Ct), "No networks.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("network");
        var command = new Command("show", "Show a network with its machines, addresses and MACs.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Networks.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Connect(CliApp app)
    {
        var id = Opt.Id("network");
        var machine = Opt.Required("--machine", "The machine to connect (same account).", "id");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the machine is connected.");
        var command = new Command("connect", "Connect a machine: it gets the lowest free address.") { id, machine, version, wait };
        app.Handle(command, async inv => await Jobs.FinishAsync(inv,
            await inv.Client().Networks.ConnectAsync(inv.Value(id), new ConnectNetworkRequest(inv.Value(machine)!, inv.Value(version)), inv.Ct), inv.Value(wait), Fields));
        return command;
    }

    private static Command Disconnect(CliApp app)
    {
        var id = Opt.Id("network");
        var machine = Opt.Required("--machine", "The machine to disconnect.", "id");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the machine is disconnected.");
        var command = new Command("disconnect", "Disconnect a machine; its address becomes free.") { id, machine, version, wait };
        app.Handle(command, async inv => await Jobs.FinishAsync(inv,
            await inv.Client().Networks.DisconnectAsync(inv.Value(id), new DisconnectNetworkRequest(inv.Value(machine)!, inv.Value(version)), inv.Ct), inv.Value(wait), Fields));
        return command;
    }

    private static Command Delete(CliApp app)
    {
        var id = Opt.Id("network");
        var version = Opt.RowVersion();
        var command = new Command("delete", "Delete a network no machine is connected to.") { id, version };
        app.Handle(command, async inv => inv.Show(await inv.Client().Networks.DeleteAsync(inv.Value(id), inv.Value(version), inv.Ct), Fields));
        return command;
    }
}

/// <summary><c>welkin machine configure</c> and <c>welkin instance configure</c>: configurable properties.</summary>
internal static class ConfigureCommands
{
    public static Command Machine(CliApp app)
    {
        var id = Opt.Id("machine");
        var (properties, version, wait) = Options();
        var command = new Command("configure", "Set configurable properties of a machine (the template's user-configurable ones).") { id, properties, version, wait };
        app.Handle(command, async inv => await Jobs.FinishAsync(inv,
            await inv.Client().Configuration.ConfigureMachineAsync(inv.Value(id), new ConfigurationRequest(Parse(inv.Value(properties)), inv.Value(version)), inv.Ct),
            inv.Value(wait), MachineCommands.Fields));
        return command;
    }

    public static Command Instance(CliApp app)
    {
        var id = Opt.Id("instance");
        var (properties, version, wait) = Options();
        var command = new Command("configure", "Set configurable properties of every machine of an instance that defines them.") { id, properties, version, wait };
        app.Handle(command, async inv => await Jobs.FinishAsync(inv,
            await inv.Client().Configuration.ConfigureInstanceAsync(inv.Value(id), new ConfigurationRequest(Parse(inv.Value(properties)), inv.Value(version)), inv.Ct),
            inv.Value(wait), InstanceCommands.Fields));
        return command;
    }

    private static (Option<string[]> Properties, Option<long?> Version, Option<bool> Wait) Options() =>
        (new Option<string[]>("--property") { Description = "A property: key=value (repeatable).", HelpName = "k=v", Required = true },
            Opt.RowVersion(),
            Opt.Flag("--wait", "Wait until the machines have the new values."));

    internal static Dictionary<string, string> Parse(string[]? properties)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in properties ?? [])
        {
            var eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliException($"--property '{p}': write key=value.");
            }
            result[p[..eq]] = p[(eq + 1)..];
        }
        return result;
    }
}

/// <summary>Showing an accepted operation, or with --wait following its job.</summary>
internal static class Jobs
{
    public static async Task<int> FinishAsync<T>(Invocation inv, AcceptedView<T> accepted, bool wait, Action<Output, T> fields)
    {
        if (!wait)
        {
            return inv.Show(accepted, (o, a) =>
            {
                fields(o, a.Resource);
                o.Line();
                o.Fields(("Job", a.Job.Id), ("Job state", Fmt.Name(a.Job.State)));
            });
        }
        var job = await JobWaiter.WaitAsync(inv, accepted.Job);
        if (inv.Structured)
        {
            inv.Document(job);
        }
        else
        {
            inv.Out.Fields(("Job", job.Id), ("Action", job.Action), ("Target", job.Target), ("State", Fmt.Name(job.State)), ("Status", job.StatusMessage),
                ("Error", job.ErrorCode is null ? null : $"{job.ErrorCode}: {job.ErrorDetail}"));
        }
        return JobWaiter.ExitCode(job);
    }
}
