using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Welkin.Core.Common;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// Applies <see cref="FreeText"/> at the API boundary to every string a request carries: the members
/// of its Welkin request records (nested records, lists and maps included) and the query strings
/// bound to the handler. A refused string answers 400 naming its field (in its JSON spelling); names
/// (<c>name</c>, <c>…Name</c>) are single-line, other text may hold tabs and line breaks.
/// </summary>
public sealed class FreeTextFilter : IEndpointFilter
{
    private const int MaxDepth = 16;
    private static readonly Assembly ContractsAssembly = typeof(Contracts.ProvisionRequest).Assembly;
    private static readonly ConcurrentDictionary<Type, (string Json, PropertyInfo Property)[]> Members = new();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var parameters = http.GetEndpoint()?.Metadata.GetMetadata<MethodInfo>()?.GetParameters();
        for (var i = 0; i < context.Arguments.Count; i++)
        {
            var argument = context.Arguments[i];
            string? field = null;
            if (argument is string text && parameters is not null && i < parameters.Length && parameters[i].Name is { } name && !http.Request.RouteValues.ContainsKey(name))
            {
                field = FreeText.IsClean(text, Multiline(name)) ? null : name;
            }
            else if (argument is not null && argument.GetType().Assembly == ContractsAssembly)
            {
                field = Refused(argument, "", 0);
            }
            if (field is not null)
            {
                return Problems.From(Error.Validation(field, $"{field} {FreeText.Rule}"), http);
            }
        }
        return await next(context);
    }

    private static bool Multiline(string field)
    {
        var last = field[(field.LastIndexOf('.') + 1)..];
        var bracket = last.IndexOf('[', StringComparison.Ordinal);
        last = bracket < 0 ? last : last[..bracket];
        return !(last == "name" || last.EndsWith("Name", StringComparison.Ordinal));
    }

    /// <summary>The path of the first refused string inside <paramref name="value"/>, or null.</summary>
    private static string? Refused(object? value, string path, int depth)
    {
        switch (value)
        {
            case null:
                return null;
            case string text:
                return FreeText.IsClean(text, Multiline(path)) ? null : path;
            case IDictionary map when depth < MaxDepth:
                foreach (DictionaryEntry entry in map)
                {
                    var key = entry.Key.ToString() ?? "";
                    var at = Join(path, key);
                    if (!FreeText.IsClean(key, multiline: false))
                    {
                        return path.Length == 0 ? "(key)" : path;
                    }
                    if (Refused(entry.Value, at, depth + 1) is { } inner)
                    {
                        return inner;
                    }
                }
                return null;
            case IEnumerable items when depth < MaxDepth:
                var index = 0;
                foreach (var item in items)
                {
                    if (Refused(item, $"{path}[{index++}]", depth + 1) is { } inner)
                    {
                        return inner;
                    }
                }
                return null;
        }
        var type = value.GetType();
        if (depth >= MaxDepth || type.Assembly != ContractsAssembly || type.IsEnum)
        {
            return null;
        }
        foreach (var (json, property) in Members.GetOrAdd(type, MembersOf))
        {
            if (Refused(property.GetValue(value), Join(path, json), depth + 1) is { } inner)
            {
                return inner;
            }
        }
        return null;
    }

    private static string Join(string path, string member) => path.Length == 0 ? member : path + "." + member;

    private static (string, PropertyInfo)[] MembersOf(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.GetMethod is not null && p.PropertyType != typeof(Type))
            .Select(p => (JsonNamingPolicy.CamelCase.ConvertName(p.Name), p))
            .ToArray();
}
