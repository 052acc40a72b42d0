using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin template</c>: service templates, their versions, publishing and retiring.</summary>
internal static class TemplateCommands
{
    public static Command Create(CliApp app) => new("template", "Create, version, publish and retire service templates.")
    {
        CreateTemplate(app), List(app), Show(app), Versions(app), Update(app), NewVersion(app),
        Transition(app, "publish", "Publish a template version so offerings can use it."),
        Transition(app, "retire", "Retire a template version: no new offerings may use it."),
        OvfCommands.Import(app), OvfCommands.ExportTemplate(app),
    };

    public static void Fields(Output o, TemplateView t)
    {
        o.Fields(
            ("Id", t.Id), ("Name", t.Name), ("Description", t.Description), ("Template version", Fmt.Number(t.TemplateVersion)),
            ("State", Fmt.Name(t.State)), ("Owner", t.Owner), ("Version", Fmt.Number(t.Version)),
            ("Created", Fmt.Time(t.Created)), ("Updated", Fmt.Time(t.Updated)), ("Published", Fmt.Time(t.Published)), ("Retired", Fmt.Time(t.Retired)));
        o.Line();
        o.Table(t.VirtualSystems, "No virtual systems.",
            new Column<VirtualSystemSpec>("Virtual system", v => v.Name),
            new Column<VirtualSystemSpec>("vCPUs", v => Fmt.Choice(v.Hardware.Vcpus)),
            new Column<VirtualSystemSpec>("Memory MiB", v => Fmt.Choice(v.Hardware.MemoryMiB)),
            new Column<VirtualSystemSpec>("Disk GiB", v => Fmt.Choice(v.Hardware.DiskGiB)),
            new Column<VirtualSystemSpec>("OS", v => Fmt.Choice(v.Software?.OperatingSystem)),
            new Column<VirtualSystemSpec>("Image", v => v.ImageId),
            new Column<VirtualSystemSpec>("Properties", v => Fmt.List(v.Properties?.Select(p => p.Key))));
    }

    private static readonly Column<TemplateView>[] ListColumns =
    [
        new("Id", t => t.Id),
        new("Ver", t => Fmt.Number(t.TemplateVersion)),
        new("State", t => Fmt.Name(t.State)),
        new("Name", t => t.Name),
        new("Systems", t => Fmt.List(t.VirtualSystems.Select(v => v.Name))),
        new("Updated", t => Fmt.Time(t.Updated)),
    ];

    /// <summary>
    /// Reads a template spec. The file may also be a template as <c>template show --output json</c>
    /// prints it, so a template can be exported, edited and sent back.
    /// </summary>
    private static TemplateSpec ReadSpec(Invocation inv, string path)
    {
        var json = inv.ReadJson(path);
        if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty("id", out _) && json.TryGetProperty("templateVersion", out _))
        {
            var spec = new JsonObject();
            foreach (var member in new[] { "name", "description", "virtualSystems" })
            {
                if (json.TryGetProperty(member, out var value))
                {
                    spec[member] = JsonNode.Parse(value.GetRawText());
                }
            }
            json = JsonSerializer.SerializeToElement(spec);
        }
        try
        {
            return json.Deserialize<TemplateSpec>(WelkinJson.Server) ?? throw new CliException($"{path} holds no template spec.");
        }
        catch (JsonException e)
        {
            throw new CliException($"{path} is not a valid template spec: {WelkinJson.Describe(e)}.");
        }
    }

    private static Option<string> SpecFile(bool required) => new("--file", "-f")
    {
        Description = "A JSON file with the template spec (name, description, virtualSystems); '-' reads standard input.",
        HelpName = "file",
        Required = required,
    };

    private static Command CreateTemplate(CliApp app)
    {
        var file = SpecFile(required: true);
        var command = new Command("create", "Create a template from a spec file; version 1 is a draft.") { file };
        app.Handle(command, async inv => inv.Show(await inv.Client().Templates.CreateAsync(ReadSpec(inv, inv.Value(file)!), inv.Ct), Fields));
        return command;
    }

    private static Command List(CliApp app)
    {
        var state = Opt.Enum<TemplateState>("--state", "Only templates in this state");
        var prefix = Opt.NamePrefix();
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List templates (latest version of each).") { state, prefix, after, limit };
        app.Handle(command, async inv =>
            inv.ShowPage(await inv.Client().Templates.ListAsync(inv.Value(state), inv.Value(prefix), inv.Value(after), inv.Value(limit), inv.Ct),
                "No templates.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("template");
        var templateVersion = Opt.Number("--template-version", "Show this version (default: the latest).");
        var command = new Command("show", "Show a template.") { id, templateVersion };
        app.Handle(command, async inv =>
        {
            var templates = inv.Client().Templates;
            var template = inv.Value(templateVersion) is { } n
                ? await templates.GetVersionAsync(inv.Value(id), n, inv.Ct)
                : await templates.GetAsync(inv.Value(id), inv.Ct);
            return inv.Show(template, Fields);
        });
        return command;
    }

    private static Command Versions(CliApp app)
    {
        var id = Opt.Id("template");
        var command = new Command("versions", "List every version of a template.") { id };
        app.Handle(command, async inv =>
            inv.ShowList(await inv.Client().Templates.ListVersionsAsync(inv.Value(id), inv.Ct), "No versions.", ListColumns));
        return command;
    }

    private static Command Update(CliApp app)
    {
        var id = Opt.Id("template");
        var file = SpecFile(required: true);
        var version = Opt.RowVersion();
        var command = new Command("update", "Replace the spec of a template's draft version.") { id, file, version };
        app.Handle(command, async inv =>
        {
            var request = new UpdateTemplateRequest(ReadSpec(inv, inv.Value(file)!), inv.Value(version));
            return inv.Show(await inv.Client().Templates.UpdateAsync(inv.Value(id), request, inv.Ct), Fields);
        });
        return command;
    }

    private static Command NewVersion(CliApp app)
    {
        var id = Opt.Id("template");
        var file = SpecFile(required: false);
        var command = new Command("new-version", "Start the next version as a draft, from a spec file or a copy of the latest.") { id, file };
        app.Handle(command, async inv =>
        {
            var spec = inv.Value(file) is { } path ? ReadSpec(inv, path) : null;
            return inv.Show(await inv.Client().Templates.NewVersionAsync(inv.Value(id), new NewTemplateVersionRequest(spec), inv.Ct), Fields);
        });
        return command;
    }

    private static Command Transition(CliApp app, string verb, string description)
    {
        var id = Opt.Id("template");
        var templateVersion = Opt.Number("--template-version", "The version to " + verb + " (default: the latest).");
        var version = Opt.RowVersion();
        var command = new Command(verb, description) { id, templateVersion, version };
        app.Handle(command, async inv =>
        {
            var request = new TemplateTransitionRequest(inv.Value(templateVersion), inv.Value(version));
            var templates = inv.Client().Templates;
            var result = verb == "publish"
                ? await templates.PublishAsync(inv.Value(id), request, inv.Ct)
                : await templates.RetireAsync(inv.Value(id), request, inv.Ct);
            return inv.Show(result, Fields);
        });
        return command;
    }
}
