using System.Globalization;
using Microsoft.AspNetCore.Http;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Portal.Components.Shared;

/// <summary>One choice a template's virtual system offers (the API's field name, a label, the template's values and default).</summary>
public sealed record TemplateChoice(string Key, string Label, IReadOnlyList<string> Values, string Default);

/// <summary>What the offering form says of one choice of one virtual system: the values ticked and the default picked.</summary>
public sealed record ChoiceInput(IReadOnlySet<string> Allowed, string? Default);

/// <summary>
/// The offering form's restrictions: per virtual system of the chosen template version, the values of each
/// of its choices the offering allows (none ticked: the template's) and the default, and properties the
/// offering fixes. The form's fields are read from the posted form; the API validates what they make.
/// </summary>
public sealed class OfferingRestrictions
{
    /// <summary>The hidden field that says which template version the posted restriction fields were made for.</summary>
    public const string TemplateField = "restrict-template";

    private readonly Dictionary<string, ChoiceInput> _choices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _fixed = new(StringComparer.Ordinal);

    /// <summary>The form fields of one choice (checkbox values) and of its default.</summary>
    public static string Field(int system, string key) => $"r-{system}-{key}";

    public static string DefaultField(int system, string key) => $"r-{system}-{key}-default";

    public static string PropertyField(int system, int property) => $"r-{system}-p-{property}";

    public static IReadOnlyList<TemplateChoice> ChoicesOf(VirtualSystemSpec system)
    {
        var list = new List<TemplateChoice>
        {
            Of("vcpus", "vCPUs", system.Hardware.Vcpus),
            Of("memoryMiB", "Memory (MiB)", system.Hardware.MemoryMiB),
            Of("diskGiB", "Disk (GiB)", system.Hardware.DiskGiB),
        };
        if (system.Software?.OperatingSystem is { } os)
        {
            list.Add(Of("operatingSystem", "Operating system", os));
        }
        if (system.Software?.HttpServer is { } http)
        {
            list.Add(Of("httpServer", "HTTP server", http));
        }
        if (system.Software?.DatabaseManager is { } dbm)
        {
            list.Add(Of("databaseManager", "Database manager", dbm));
        }
        return list;
    }

    private static TemplateChoice Of<T>(string key, string label, Choice<T> choice) =>
        new(key, label, choice.Allowed.Select(Text).ToList(), Text(choice.Default));

    private static string Text<T>(T value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";

    public ChoiceInput? Choice(string system, string key) => _choices.GetValueOrDefault(system + "\n" + key);

    public string? Fixed(string system, string property) => _fixed.GetValueOrDefault(system + "\n" + property);

    /// <summary>The restrictions an offering has, as the form shows them.</summary>
    public static OfferingRestrictions From(IReadOnlyList<VirtualSystemRestriction>? restrictions)
    {
        var form = new OfferingRestrictions();
        foreach (var r in restrictions ?? [])
        {
            form.Set(r.VirtualSystem, "vcpus", r.Vcpus);
            form.Set(r.VirtualSystem, "memoryMiB", r.MemoryMiB);
            form.Set(r.VirtualSystem, "diskGiB", r.DiskGiB);
            form.Set(r.VirtualSystem, "operatingSystem", r.OperatingSystem);
            form.Set(r.VirtualSystem, "httpServer", r.HttpServer);
            form.Set(r.VirtualSystem, "databaseManager", r.DatabaseManager);
            foreach (var (key, value) in r.FixedProperties ?? new Dictionary<string, string>())
            {
                form._fixed[r.VirtualSystem + "\n" + key] = value;
            }
        }
        return form;
    }

    private void Set<T>(string system, string key, Choice<T>? choice)
    {
        if (choice is not null)
        {
            _choices[system + "\n" + key] = new ChoiceInput(choice.Allowed.Select(Text).ToHashSet(StringComparer.Ordinal), Text(choice.Default));
        }
    }

    /// <summary>The restriction fields of a posted form made for <paramref name="template"/>.</summary>
    public static OfferingRestrictions From(IFormCollection posted, IReadOnlyList<VirtualSystemSpec> template)
    {
        var form = new OfferingRestrictions();
        for (var i = 0; i < template.Count; i++)
        {
            var system = template[i];
            foreach (var choice in ChoicesOf(system))
            {
                var allowed = posted[Field(i, choice.Key)].OfType<string>().ToHashSet(StringComparer.Ordinal);
                var chosen = posted[DefaultField(i, choice.Key)].ToString();
                if (allowed.Count > 0 || chosen.Length > 0)
                {
                    form._choices[system.Name + "\n" + choice.Key] = new ChoiceInput(allowed, chosen.Length > 0 ? chosen : null);
                }
            }
            for (var p = 0; p < (system.Properties?.Count ?? 0); p++)
            {
                var value = posted[PropertyField(i, p)].ToString();
                if (value.Length > 0)
                {
                    form._fixed[system.Name + "\n" + system.Properties![p].Key] = value;
                }
            }
        }
        return form;
    }

    /// <summary>
    /// The restrictions for the offering spec, in the template's order of virtual systems (a system the form
    /// leaves alone is left out), and where each one's problems are reported: the API's field is
    /// <c>choices[index]</c>. A value that is not a number where the choice is numeric is a form error.
    /// </summary>
    public (List<VirtualSystemRestriction> Restrictions, Dictionary<string, int> Index, WelkinProblem? Problem) ToRestrictions(IReadOnlyList<VirtualSystemSpec> template)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var list = new List<VirtualSystemRestriction>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var system in template)
        {
            var choices = ChoicesOf(system).ToDictionary(c => c.Key);
            Choice<T>? Make<T>(string key, Func<string, T> parse)
            {
                if (Choice(system.Name, key) is not { } input || !choices.TryGetValue(key, out var offered))
                {
                    return null;
                }
                try
                {
                    var allowed = input.Allowed.Count > 0 ? offered.Values.Where(input.Allowed.Contains).Concat(input.Allowed.Where(v => !offered.Values.Contains(v))).ToList() : offered.Values.ToList();
                    var chosen = input.Default ?? (allowed.Contains(offered.Default) ? offered.Default : allowed[0]);
                    if (chosen == offered.Default && allowed.Order(StringComparer.Ordinal).SequenceEqual(offered.Values.Order(StringComparer.Ordinal)))
                    {
                        return null; // all of the template's values and its default: no restriction
                    }
                    return new Choice<T>(allowed.Select(parse).ToList(), parse(chosen));
                }
                catch (Exception e) when (e is FormatException or OverflowException)
                {
                    errors[$"{system.Name}.{key}"] = ["Each value must be a whole number."];
                    return null;
                }
            }
            int Int(string s) => int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
            long Long(string s) => long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
            var fixedProperties = (system.Properties ?? [])
                .Where(p => Fixed(system.Name, p.Key) is not null)
                .ToDictionary(p => p.Key, p => Fixed(system.Name, p.Key)!, StringComparer.Ordinal);
            var restriction = new VirtualSystemRestriction(
                system.Name,
                Make("vcpus", Int),
                Make("memoryMiB", Long),
                Make("diskGiB", Long),
                Make("operatingSystem", s => s),
                Make("httpServer", s => s),
                Make("databaseManager", s => s),
                fixedProperties.Count > 0 ? fixedProperties : null);
            if (restriction != new VirtualSystemRestriction(system.Name))
            {
                index[system.Name] = list.Count;
                list.Add(restriction);
            }
        }
        return (list, index, errors.Count > 0 ? CatalogForms.Invalid(errors) : null);
    }

    /// <summary>
    /// The messages of <paramref name="problem"/> about one field of a system's restriction (an empty
    /// <paramref name="key"/>: the system itself): the API's (<c>choices[i].key</c>, with or without the
    /// <c>spec.</c> of an update) and the form's own (<c>system.key</c>).
    /// </summary>
    public static IEnumerable<string> ErrorsFor(WelkinProblem? problem, IReadOnlyDictionary<string, int> index, string system, string key)
    {
        if (problem?.Errors is not { } errors)
        {
            yield break;
        }
        var api = index.TryGetValue(system, out var i) ? $"choices[{i}].{(key.Length > 0 ? key : "virtualSystem")}" : null;
        foreach (var (field, messages) in errors)
        {
            var bare = field.StartsWith("spec.", StringComparison.Ordinal) ? field[5..] : field;
            var mine = field == $"{system}.{key}" || (api is not null && (bare == api || bare.StartsWith(api + ".", StringComparison.Ordinal)));
            if (mine)
            {
                foreach (var m in messages)
                {
                    yield return m;
                }
            }
        }
    }
}
