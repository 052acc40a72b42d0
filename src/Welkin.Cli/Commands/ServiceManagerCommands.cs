using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Welkin.Cli.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin instance</c>: provision service instances from active contracts, scale and terminate them.</summary>
internal static class InstanceCommands
{
    public static Command Create(CliApp app) => new("instance", "Provision service instances from active contracts and manage them.")
    {
        Provision(app), List(app), Show(app), Scale(app), Terminate(app), OvfCommands.ExportInstance(app),
    };

    private static readonly Column<InstanceView>[] ListColumns =
    [
        new("Id", i => i.Id),
        new("Name", i => i.Name),
        new("State", i => Fmt.Name(i.State)),
        new("Contract", i => i.ContractId),
        new("Machines", i => Fmt.Number(i.Machines.Count)),
        new("Systems", i => string.Join(", ", i.VirtualSystems.Select(s => $"{s.VirtualSystem} x{s.Count}"))),
        new("Created", i => Fmt.Time(i.Created)),
    ];

    public static void Fields(Output o, InstanceView i)
    {
        o.Fields(("Id", i.Id), ("Account", i.AccountId), ("Name", i.Name), ("State", Fmt.Name(i.State)), ("Contract", $"{i.ContractId} item {i.Item}"),
            ("Offering", i.OfferingId), ("Template", $"{i.TemplateId} v{i.TemplateVersion}"), ("Version", Fmt.Number(i.Version)),
            ("Created", Fmt.Time(i.Created)), ("Updated", Fmt.Time(i.Updated)));
        o.Line();
        o.Table(i.VirtualSystems, "No virtual systems.",
            new Column<VirtualSystemChoice>("System", s => s.VirtualSystem),
            new Column<VirtualSystemChoice>("Count", s => Fmt.Number(s.Count)),
            new Column<VirtualSystemChoice>("vCPUs", s => Fmt.Number(s.Vcpus)),
            new Column<VirtualSystemChoice>("Memory MiB", s => Fmt.Number(s.MemoryMiB)),
            new Column<VirtualSystemChoice>("Disk GiB", s => Fmt.Number(s.DiskGiB)),
            new Column<VirtualSystemChoice>("OS", s => s.OperatingSystem));
        o.Line();
        o.Fields(("Machines", string.Join(", ", i.Machines)));
    }

    /// <summary>Parses <c>name:count[:vcpus[:memoryMiB]]</c>.</summary>
    internal static VirtualSystemChoice ParseSystem(string text)
    {
        var parts = text.Split(':');
        if (parts.Length is < 1 or > 4 || parts[0].Length == 0)
        {
            throw new CliException($"--vs '{text}': write name:count[:vcpus[:memoryMiB]].");
        }
        int? Int(int i) => parts.Length > i && parts[i].Length > 0
            ? int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new CliException($"--vs '{text}': '{parts[i]}' is not a number.")
            : null;
        long? memory = Int(3);
        return new VirtualSystemChoice(parts[0], Int(1), Int(2), memory);
    }

    /// <summary>Applies <c>--image name=image-id</c> to the named virtual systems, adding those not chosen with --vs.</summary>
    internal static List<VirtualSystemChoice> WithImages(List<VirtualSystemChoice> choices, IEnumerable<string> images)
    {
        foreach (var image in images)
        {
            var eq = image.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == image.Length - 1)
            {
                throw new CliException($"--image '{image}': write virtual-system=image-id.");
            }
            var (system, imageId) = (image[..eq], image[(eq + 1)..]);
            var index = choices.FindIndex(c => c.VirtualSystem == system);
            if (index < 0)
            {
                choices.Add(new VirtualSystemChoice(system, ImageId: imageId));
            }
            else
            {
                choices[index] = choices[index] with { ImageId = imageId };
            }
        }
        return choices;
    }

    private static Command Provision(CliApp app)
    {
        var contract = Opt.Required("--contract", "The active contract to provision against.", "id");
        var systems = new Option<string[]>("--vs") { Description = "A virtual system: name:count[:vcpus[:memoryMiB]] (repeatable; default: one machine of each).", HelpName = "spec" };
        var os = Opt.Text("--os", "Operating system for every virtual system (one of the offering's choices).", "name");
        var properties = new Option<string[]>("--property") { Description = "A property for every virtual system: key=value (repeatable).", HelpName = "k=v" };
        var images = new Option<string[]>("--image") { Description = "Boot an image of your account instead of the template's: name=image-id (repeatable).", HelpName = "vs=img" };
        var keyFile = Opt.Text("--ssh-key-file", "An OpenSSH public key to inject (otherwise a password is generated and shown once).", "path");
        var antiAffinity = Opt.Flag("--anti-affinity", "Keep the machines of each virtual system on different hosts.");
        var item = Opt.Number("--item", "The contract line (default: the first compute line).");
        var name = Opt.Text("--name", "A name for the instance.", "name");
        var wait = Opt.Flag("--wait", "Wait until the machines run; show progress on standard error.");
        var command = new Command("provision", "Provision a service instance (Table 1: Provision Resource).")
        {
            contract, systems, os, properties, images, keyFile, antiAffinity, item, name, wait,
        };
        app.Handle(command, async inv =>
        {
            var props = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in inv.Value(properties) ?? [])
            {
                var eq = p.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new CliException($"--property '{p}': write key=value.");
                }
                props[p[..eq]] = p[(eq + 1)..];
            }
            var choices = (inv.Value(systems) ?? []).Select(ParseSystem).ToList();
            if ((inv.Value(os) is not null || props.Count > 0) && choices.Count == 0)
            {
                throw new CliException("--os and --property apply to the virtual systems named with --vs; name at least one.");
            }
            choices = choices.Select(c => c with { OperatingSystem = inv.Value(os), Properties = props.Count == 0 ? null : props }).ToList();
            choices = WithImages(choices, inv.Value(images) ?? []);
            string? key = null;
            if (inv.Value(keyFile) is { } path)
            {
                try
                {
                    key = (await File.ReadAllTextAsync(path, inv.Ct)).Trim();
                }
                catch (IOException e)
                {
                    throw new CliException($"Cannot read {path}: {e.Message}");
                }
            }
            var request = new ProvisionRequest(inv.Value(contract)!, inv.Value(name), inv.Value(item), choices.Count == 0 ? null : choices, key,
                AntiAffinity: inv.Value(antiAffinity));
            var accepted = await inv.Client().Instances.ProvisionAsync(request, inv.Ct);
            return await FinishAsync(inv, accepted, inv.Value(wait));
        });
        return command;
    }

    /// <summary>Shows the accepted instance, or with --wait follows the job and shows its machines (with a generated password, once).</summary>
    internal static async Task<int> FinishAsync(Invocation inv, AcceptedView<InstanceView> accepted, bool wait)
    {
        if (!wait)
        {
            return inv.Show(accepted, (o, a) =>
            {
                Fields(o, a.Resource);
                o.Line();
                o.Fields(("Job", a.Job.Id), ("Job state", Fmt.Name(a.Job.State)));
            });
        }
        var job = await JobWaiter.WaitAsync(inv, accepted.Job);
        if (inv.Structured)
        {
            inv.Document(job);
            return JobWaiter.ExitCode(job);
        }
        var result = job.Result?.Deserialize<ProvisionResult>(WelkinJson.Client);
        inv.Out.Table(result?.Machines ?? [], "No machines.",
            new Column<ProvisionedMachine>("Id", m => m.Id),
            new Column<ProvisionedMachine>("Name", m => m.Name),
            new Column<ProvisionedMachine>("State", m => Fmt.Name(m.State)),
            new Column<ProvisionedMachine>("Host", m => m.Host),
            new Column<ProvisionedMachine>("Address", m => m.Access is { Addresses.Count: > 0 } a ? a.Addresses[0] : null),
            new Column<ProvisionedMachine>("SSH", m => m.Access?.Endpoints.FirstOrDefault(e => e.Protocol == "ssh") is { } e ? $"{e.Host}:{e.Port}" : null),
            new Column<ProvisionedMachine>("User", m => m.Access?.User),
            new Column<ProvisionedMachine>("Password", m => m.Access?.Password),
            new Column<ProvisionedMachine>("Error", m => m.Error));
        if (result?.Machines.Any(m => m.Access?.Password is not null) == true)
        {
            inv.Err.WriteLine("Passwords are shown once; Welkin keeps only their hashes.");
        }
        return JobWaiter.ExitCode(job);
    }

    private static Command List(CliApp app)
    {
        var contract = Opt.Text("--contract", "Only instances of this contract.", "id");
        var state = Opt.Enum<InstanceState>("--state", "Only instances in this state");
        var account = Opt.Text("--account", "Only this account's instances (provider roles).", "id");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List service instances.") { contract, state, account, after, limit };
        app.Handle(command, async inv => inv.ShowPage(
            await inv.Client().Instances.ListAsync(inv.Value(contract), inv.Value(state), inv.Value(account), inv.Value(after), inv.Value(limit), inv.Ct),
            "No instances.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("instance");
        var command = new Command("show", "Show an instance with its virtual systems and machines.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Instances.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Scale(CliApp app)
    {
        var id = Opt.Id("instance");
        var system = Opt.Required("--vs", "The virtual system to scale.", "name");
        var count = new Option<int>("--count") { Description = "Machines it should have.", Required = true, HelpName = "n", CustomParser = Opt.WholeNumber };
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the machines are added or removed.");
        var command = new Command("scale", "Scale a virtual system to a number of machines (Table 1: Change Resource Capacity).") { id, system, count, version, wait };
        app.Handle(command, async inv =>
        {
            var accepted = await inv.Client().Instances.ScaleAsync(inv.Value(id), new ScaleRequest(inv.Value(system)!, inv.Value(count), inv.Value(version)), inv.Ct);
            return await FinishAsync(inv, accepted, inv.Value(wait));
        });
        return command;
    }

    private static Command Terminate(CliApp app)
    {
        var id = Opt.Id("instance");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until every machine is terminated.");
        var command = new Command("terminate", "Terminate an instance: its machines are destroyed and their units returned.") { id, version, wait };
        app.Handle(command, async inv =>
        {
            var accepted = await inv.Client().Instances.TerminateAsync(inv.Value(id), new MachineActionRequest(inv.Value(version)), inv.Ct);
            if (!inv.Value(wait))
            {
                return await FinishAsync(inv, accepted, false);
            }
            var job = await JobWaiter.WaitAsync(inv, accepted.Job);
            inv.Show(await inv.Client().Instances.GetAsync(accepted.Resource.Id, inv.Ct), Fields);
            return JobWaiter.ExitCode(job);
        });
        return command;
    }
}

/// <summary><c>welkin machine</c>: machines and their actions.</summary>
internal static class MachineCommands
{
    public static Command Create(CliApp app)
    {
        var command = new Command("machine", "Machines of service instances: actions, resize, migrate, move, repatriate, console, metrics, export.") { List(app), Show(app), Resize(app), Migrate(app), Move(app), Repatriate(app), Console(app), Metrics(app), OvfCommands.ExportMachine(app) };
        foreach (var (verb, description) in new[]
        {
            ("start", "Start an inactive machine."), ("stop", "Stop (deactivate) a machine; it keeps its disk and host."),
            ("pause", "Pause a running machine."), ("resume", "Resume a paused machine."), ("reboot", "Reboot a running machine."),
            ("destroy", "Destroy a machine; its unit goes back to the contract."),
        })
        {
            command.Subcommands.Add(Action(app, verb, description));
        }
        return command;
    }

    private static readonly Column<MachineView>[] ListColumns =
    [
        new("Id", m => m.Id),
        new("Name", m => m.Name),
        new("State", m => Fmt.Name(m.State)),
        new("Host", m => m.Host),
        new("vCPUs", m => Fmt.Number(m.Vcpus)),
        new("Memory MiB", m => Fmt.Number(m.MemoryMiB)),
        new("Disk GiB", m => Fmt.Number(m.DiskGiB)),
        new("Instance", m => m.InstanceId),
        new("Runs in", RunsIn),
    ];

    /// <summary>Where a machine runs: "local" on this cloud's hosts, else the peer cloud whose pool it is in.</summary>
    private static string RunsIn(MachineView m) => m.Peer is { } peer ? "peer " + peer : "local";

    public static void Fields(Output o, MachineView m) =>
        o.Fields(("Id", m.Id), ("Name", m.Name), ("State", Fmt.Name(m.State)), ("Error", m.Error), ("Instance", m.InstanceId), ("Contract", m.ContractId),
            ("Virtual system", m.VirtualSystem), ("Host", m.Host), ("Pool", m.Pool), ("Runs in", RunsIn(m)), ("vCPUs", Fmt.Number(m.Vcpus)), ("Memory MiB", Fmt.Number(m.MemoryMiB)),
            ("Disk GiB", Fmt.Number(m.DiskGiB)), ("Image", m.ImageId), ("OS", m.OperatingSystem),
            ("Software", string.Join(", ", m.Software.Select(kv => $"{kv.Key}={kv.Value}"))),
            ("Properties", string.Join(", ", m.Properties.Select(kv => $"{kv.Key}={kv.Value}"))),
            ("Addresses", Fmt.List(m.Access?.Addresses)),
            ("Endpoints", m.Access is null ? null : string.Join(", ", m.Access.Endpoints.Select(e => $"{e.Protocol}://{e.Host}:{e.Port}"))),
            ("User", m.Access?.User), ("SSH key", m.Access?.SshKeyFingerprint), ("Version", Fmt.Number(m.Version)),
            ("Created", Fmt.Time(m.Created)), ("State changed", Fmt.Time(m.StateChanged)), ("Released", Fmt.Time(m.Released)));

    private static Command List(CliApp app)
    {
        var instance = Opt.Text("--instance", "Only machines of this instance.", "id");
        var state = Opt.Enum<MachineState>("--state", "Only machines in this state");
        var account = Opt.Text("--account", "Only this account's machines (provider roles).", "id");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List machines.") { instance, state, account, after, limit };
        app.Handle(command, async inv => inv.ShowPage(
            await inv.Client().Machines.ListAsync(inv.Value(instance), inv.Value(state), inv.Value(account), inv.Value(after), inv.Value(limit), inv.Ct),
            "No machines.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("machine");
        var command = new Command("show", "Show a machine: state, host, sizes and how to reach it.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Machines.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Action(CliApp app, string verb, string description)
    {
        var id = Opt.Id("machine");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the action is done.");
        var command = new Command(verb, description) { id, version, wait };
        Option<bool>? force = null;
        if (verb == "stop")
        {
            force = Opt.Flag("--force", "Stop at once instead of an ACPI power-down.");
            command.Options.Add(force);
        }
        app.Handle(command, async inv =>
        {
            var accepted = await inv.Client().Machines.ActAsync(inv.Value(id), verb, new MachineActionRequest(inv.Value(version), force is not null && inv.Value(force)), inv.Ct);
            return await FinishAsync(inv, accepted, inv.Value(wait));
        });
        return command;
    }

    private static Command Resize(CliApp app)
    {
        var id = Opt.Id("machine");
        var vcpus = Opt.Number("--vcpus", "New number of vCPUs (one of the offering's choices).");
        var memory = Opt.LongNumber("--memory", "New memory in MiB (one of the offering's choices).", "MiB");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the resize is done.");
        var command = new Command("resize", "Resize a machine (Table 1: Change Resource Capacity); a running one is restarted.") { id, vcpus, memory, version, wait };
        app.Handle(command, async inv =>
        {
            var accepted = await inv.Client().Machines.ResizeAsync(inv.Value(id), new ResizeRequest(inv.Value(vcpus), inv.Value(memory), inv.Value(version)), inv.Ct);
            return await FinishAsync(inv, accepted, inv.Value(wait));
        });
        return command;
    }

    private static Command Migrate(CliApp app)
    {
        var id = Opt.Id("machine");
        var host = Opt.Text("--host", "The host to move the machine to.", "name");
        host.Required = true;
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the machine has moved.");
        var command = new Command("migrate", "Move a machine to another host (operators): live when it runs, cold when it is inactive.") { id, host, version, wait };
        app.Handle(command, async inv =>
        {
            var accepted = await inv.Client().Machines.MigrateAsync(inv.Value(id), new MigrateRequest(inv.Value(host)!, inv.Value(version)), inv.Ct);
            return await FinishAsync(inv, accepted, inv.Value(wait));
        });
        return command;
    }

    private static Command Move(CliApp app)
    {
        var id = Opt.Id("machine");
        var cloud = Opt.Text("--to-cloud", "The peer cloud (federation name) to move the machine to.", "peer");
        var pool = Opt.Text("--pool", "The host pool to move the machine to (a peer cloud's).", "name");
        var live = Opt.Flag("--live", "Move the machine while it runs (QEMU pools at both ends): its disk and memory stream to the peer.");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the machine has moved.");
        var command = new Command("move", "Move a machine to another cloud (operators): stopped, carried over as an OVA, started there if it ran; or live with --live.")
        {
            id, cloud, pool, live, version, wait,
        };
        app.Handle(command, async inv =>
        {
            var request = new MoveRequest(inv.Value(pool), inv.Value(live) ? MoveMode.Live : MoveMode.Cold, inv.Value(version), inv.Value(cloud));
            var accepted = await inv.Client().Machines.MoveAsync(inv.Value(id), request, inv.Ct);
            return await FinishAsync(inv, accepted, inv.Value(wait));
        });
        return command;
    }

    private static Command Repatriate(CliApp app)
    {
        var id = Opt.Id("machine");
        var pool = Opt.Text("--pool", "This cloud's host pool to bring the machine home to (default: the first that has room for it).", "name");
        var live = Opt.Flag("--live", "Move the machine while it runs.");
        var version = Opt.RowVersion();
        var wait = Opt.Flag("--wait", "Wait until the machine is home.");
        var command = new Command("repatriate", "Bring a machine running at a peer cloud home to this cloud (operators): stopped, carried back as an OVA, started here if it ran; or live with --live.")
        {
            id, pool, live, version, wait,
        };
        app.Handle(command, async inv =>
        {
            var mode = inv.Value(live) ? MoveMode.Live : MoveMode.Cold;
            var client = inv.Client();
            var pools = inv.Value(pool) is { } named
                ? [named]
                : (await client.Fabric.ListHostsAsync(inv.Ct)).Where(h => h.Fabric != "peer" && h.Pool is not null).Select(h => h.Pool!).Distinct().ToList();
            if (pools.Count == 0)
            {
                throw new CliException("This cloud has no pool of its own to bring the machine home to.");
            }
            for (var i = 0; ; i++)
            {
                try
                {
                    var accepted = await client.Machines.MoveAsync(inv.Value(id), new MoveRequest(pools[i], mode, inv.Value(version)), inv.Ct);
                    return await FinishAsync(inv, accepted, inv.Value(wait));
                }
                catch (WelkinApiException e) when (e.Code == "insufficient-capacity" && i + 1 < pools.Count)
                {
                    // That pool has no room for the machine: the next one may.
                }
            }
        });
        return command;
    }

    private static async Task<int> FinishAsync(Invocation inv, AcceptedView<MachineView> accepted, bool wait)
    {
        if (!wait)
        {
            return inv.Show(accepted, (o, a) =>
            {
                Fields(o, a.Resource);
                o.Line();
                o.Fields(("Job", a.Job.Id), ("Job state", Fmt.Name(a.Job.State)));
            });
        }
        var job = await JobWaiter.WaitAsync(inv, accepted.Job);
        inv.Show(await inv.Client().Machines.GetAsync(accepted.Resource.Id, inv.Ct), Fields);
        return JobWaiter.ExitCode(job);
    }

    private static Command Console(CliApp app)
    {
        var id = Opt.Id("machine");
        var command = new Command("console", "Print the tail of the machine's serial console.") { id };
        app.Handle(command, async inv =>
        {
            inv.Context.Out.Write(await inv.Client().Machines.ConsoleAsync(inv.Value(id), inv.Ct));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Metrics(CliApp app)
    {
        var id = Opt.Id("machine");
        var command = new Command("metrics", "Show the machine's counters.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Machines.MetricsAsync(inv.Value(id), inv.Ct), (o, m) =>
            o.Fields(("Machine", m.MachineId), ("At", Fmt.Time(m.At)), ("CPU %", m.CpuUtilizationPercent.ToString("0.0", CultureInfo.InvariantCulture)),
                ("CPU time ms", Fmt.Number(m.CpuTimeMs)), ("Memory used", Fmt.Bytes(m.MemoryUsedBytes)), ("Page faults", Fmt.Number(m.PageFaults)),
                ("Disk read", Fmt.Bytes(m.DiskReadBytes)), ("Disk written", Fmt.Bytes(m.DiskWriteBytes)),
                ("Network in", Fmt.Bytes(m.NetworkRxBytes)), ("Network out", Fmt.Bytes(m.NetworkTxBytes)))));
        return command;
    }
}

/// <summary><c>welkin job</c>: asynchronous work.</summary>
internal static class JobCommands
{
    public static Command Create(CliApp app) => new("job", "Jobs of asynchronous operations.") { List(app), Show(app), Wait(app) };

    private static readonly Column<JobView>[] ListColumns =
    [
        new("Id", j => j.Id),
        new("Action", j => j.Action),
        new("Target", j => j.Target),
        new("State", j => Fmt.Name(j.State)),
        new("Progress", j => $"{j.Progress}%"),
        new("Status", j => j.ErrorCode is null ? j.StatusMessage : $"{j.ErrorCode}: {j.ErrorDetail}"),
        new("Created", j => Fmt.Time(j.Created)),
    ];

    public static void Fields(Output o, JobView j) =>
        o.Fields(("Id", j.Id), ("Action", j.Action), ("Target", j.Target), ("State", Fmt.Name(j.State)), ("Progress", $"{j.Progress}%"),
            ("Status", j.StatusMessage), ("Error", j.ErrorCode is null ? null : $"{j.ErrorCode}: {j.ErrorDetail}"), ("Account", j.AccountId),
            ("Created", Fmt.Time(j.Created)), ("Started", Fmt.Time(j.Started)), ("Finished", Fmt.Time(j.Finished)),
            ("Result", j.Result?.GetRawText()));

    private static Command List(CliApp app)
    {
        var state = Opt.Enum<JobState>("--state", "Only jobs in this state");
        var target = Opt.Text("--target", "Only jobs on this resource.", "id");
        var action = Opt.Text("--action", "Only jobs of this action (instance.provision, machine.stop, ...).", "action");
        var account = Opt.Text("--account", "Only this account's jobs (provider roles).", "id");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List jobs.") { state, target, action, account, after, limit };
        app.Handle(command, async inv => inv.ShowPage(
            await inv.Client().Jobs.ListAsync(inv.Value(state), inv.Value(target), inv.Value(action), inv.Value(account), inv.Value(after), inv.Value(limit), inv.Ct),
            "No jobs.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("job");
        var command = new Command("show", "Show a job.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Jobs.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Wait(CliApp app)
    {
        var id = Opt.Id("job");
        var command = new Command("wait", "Wait for a job to finish, showing its progress on standard error; exit 1 if it failed.") { id };
        app.Handle(command, async inv =>
        {
            var job = await JobWaiter.WaitAsync(inv, await inv.Client().Jobs.GetAsync(inv.Value(id), inv.Ct));
            inv.Show(job, Fields);
            return JobWaiter.ExitCode(job);
        });
        return command;
    }
}

/// <summary><c>welkin event</c>: the event log.</summary>
internal static class EventCommands
{
    public static Command Create(CliApp app) => new("event", "The event log: lifecycle and usage events with exact sizes and times.") { List(app) };

    private static readonly Column<EventView>[] Columns =
    [
        new("Seq", e => Fmt.Number(e.Seq)),
        new("At", e => e.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)),
        new("Type", e => e.Type),
        new("Target", e => e.Target),
        new("Data", e => string.Join(" ", e.Data.Select(kv => $"{kv.Key}={kv.Value}"))),
    ];

    private static Command List(CliApp app)
    {
        var type = Opt.Text("--type", "Only this type, or a prefix ending in '.' (machine.).", "type");
        var target = Opt.Text("--target", "Only events of this resource.", "id");
        var since = Opt.Time("--since", "Only events at or after this time.");
        var account = Opt.Text("--account", "Only this account's events (provider roles).", "id");
        var after = Opt.LongNumber("--after", "Only events after this number.", "seq");
        var limit = Opt.Limit();
        var follow = Opt.Flag("--follow", "Keep printing new events until interrupted.");
        var command = new Command("list", "List events, oldest first.") { type, target, since, account, after, limit, follow };
        app.Handle(command, async inv =>
        {
            var client = inv.Client().Events;
            var page = await client.ListAsync(inv.Value(type), inv.Value(target), inv.Value(since), null, inv.Value(after), inv.Value(account), inv.Value(limit), inv.Ct);
            if (!inv.Value(follow))
            {
                return inv.ShowPage(page, "No events.", Columns);
            }
            long? last = inv.Value(after);
            while (!inv.Ct.IsCancellationRequested)
            {
                foreach (var e in page.Items)
                {
                    // Followed events stream: JSON a document per line, YAML a document each.
                    switch (inv.Format)
                    {
                        case OutputFormat.Json:
                            inv.Context.Out.WriteLine(JsonSerializer.Serialize(e, WelkinJson.Client));
                            break;
                        case OutputFormat.Yaml:
                            inv.Out.Line("---");
                            inv.Document(e);
                            break;
                        case OutputFormat.Value:
                            inv.Document(e);
                            break;
                        default:
                            inv.Context.Out.WriteLine(string.Join("  ", Columns.Select(c => c.Value(e))));
                            break;
                    }
                    last = e.Seq;
                }
                if (page.Next is null)
                {
                    try
                    {
                        await Task.Delay(JobWaiter.DefaultInterval, inv.Ct);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
                page = await client.ListAsync(inv.Value(type), inv.Value(target), inv.Value(since), null, last, inv.Value(account), inv.Value(limit), inv.Ct);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
