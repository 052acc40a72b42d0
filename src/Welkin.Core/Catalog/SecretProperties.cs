using Welkin.Contracts;

namespace Welkin.Core.Catalog;

/// <summary>
/// Password properties (OVF 2.0 9.5 <c>ovf:password</c>): their values reach the machine (the driver's
/// <c>MachineSpec.Properties</c>) in clear, since that is their purpose, and nothing Welkin answers shows them
/// back. Views show a value as <see cref="Mask"/> and a template's default as null; the stored values stay
/// server-side for provisioning.
/// </summary>
public static class SecretProperties
{
    public const string Mask = "********";

    /// <summary>The keys of a virtual system's password properties, or null when it has none.</summary>
    public static IReadOnlyList<string>? KeysOf(VirtualSystemSpec system) =>
        system.Properties?.Where(p => p is { Password: true }).Select(p => p.Key).ToList() is { Count: > 0 } keys ? keys : null;

    /// <summary><paramref name="values"/> with the value of each key in <paramref name="secrets"/> replaced by <see cref="Mask"/>.</summary>
    public static IReadOnlyDictionary<string, string> Masked(IReadOnlyDictionary<string, string> values, IReadOnlyCollection<string>? secrets)
    {
        if (secrets is not { Count: > 0 } || !values.Keys.Any(secrets.Contains))
        {
            return values;
        }
        var masked = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in values)
        {
            masked[key] = secrets.Contains(key) ? Mask : value;
        }
        return masked;
    }

    /// <summary>
    /// <paramref name="sent"/> with the stored default of each password property it sends without one: views never
    /// show that default, so a spec read back, edited and sent again must not lose it.
    /// </summary>
    public static TemplateSpec KeepStoredDefaults(TemplateSpec sent, TemplateSpec stored)
    {
        var defaults = stored.VirtualSystems
            .SelectMany(s => (s.Properties ?? []).Where(p => p is { Password: true, Default: not null }).Select(p => (System: s.Name, p.Key, p.Default)))
            .ToDictionary(d => (d.System, d.Key), d => d.Default!);
        if (defaults.Count == 0)
        {
            return sent;
        }
        return sent with
        {
            VirtualSystems = sent.VirtualSystems.Select(s => s.Properties is null ? s : s with
            {
                Properties = s.Properties.Select(p => p is { Password: true, Default: null } && defaults.TryGetValue((s.Name, p.Key), out var kept)
                    ? p with { Default = kept }
                    : p).ToList(),
            }).ToList(),
        };
    }

    /// <summary>The virtual systems as a template view shows them: a password property's default as null.</summary>
    public static IReadOnlyList<VirtualSystemSpec> WithoutSecretDefaults(IReadOnlyList<VirtualSystemSpec> systems) =>
        systems.Any(s => s.Properties?.Any(p => p is { Password: true, Default: not null }) == true)
            ? systems.Select(s => s.Properties?.Any(p => p is { Password: true, Default: not null }) == true
                ? s with { Properties = s.Properties.Select(p => p.Password ? p with { Default = null } : p).ToList() }
                : s).ToList()
            : systems;
}
