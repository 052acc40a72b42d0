using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Welkin.Cli.Infrastructure;

/// <summary>Option and argument factories shared by the commands.</summary>
internal static class Opt
{
    public static Argument<string> Id(string what) => new("ID") { Description = $"The {what}'s id." };

    public static Option<string> Required(string name, string description, string? helpName = null) =>
        new(name) { Description = description, Required = true, HelpName = helpName };

    public static Option<string?> Text(string name, string description, string? helpName = null) =>
        new(name) { Description = description, HelpName = helpName };

    public static Option<long?> RowVersion() => new("--version")
    {
        Description = "Fail unless the resource is still at this version (optimistic concurrency).",
        HelpName = "n",
        CustomParser = r => ParseNumber<long>(r, long.TryParse),
    };

    public static Option<string?> After() => new("--after") { Description = "Continue after this cursor (printed when there are more results).", HelpName = "cursor" };

    public static Option<string?> NamePrefix() => new("--name-prefix") { Description = "Only those whose name starts with this.", HelpName = "text" };

    public static Option<int?> Limit() => new("--limit")
    {
        Description = "Page size (default: the server's).",
        HelpName = "n",
        CustomParser = r => ParseNumber<int>(r, int.TryParse),
    };

    public static Option<int?> Number(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "n",
        CustomParser = r => ParseNumber<int>(r, int.TryParse),
    };

    public static Option<long?> LongNumber(string name, string description, string helpName = "n") => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = r => ParseNumber<long>(r, long.TryParse),
    };

    /// <summary>A time in any of the forms of <see cref="TimeInput"/>; ages count back from the local clock.</summary>
    public static Option<DateTimeOffset?> Time(string name, string description) => new(name)
    {
        Description = $"{description} Any of: {TimeInput.Forms}.",
        HelpName = "time",
        CustomParser = r =>
        {
            if (r.Tokens.Count == 0)
            {
                return null;
            }
            var text = r.Tokens[0].Value;
            var time = TimeInput.Parse(text, TimeProvider.System.GetUtcNow());
            if (time is null)
            {
                r.AddError($"'{text}' is not a time ({OptionName(r)}): use {TimeInput.Forms}.");
            }
            return time;
        },
    };

    /// <summary>Custom parsers for required number options, so that a bad value is reported in words, not as a .NET type.</summary>
    public static int WholeNumber(ArgumentResult result) => ParseNumber<int>(result, int.TryParse) ?? 0;

    public static int[] WholeNumbers(ArgumentResult result) =>
        result.Tokens.Select(t => ParseNumber<int>(result, t.Value, int.TryParse) ?? 0).ToArray();

    public static long LongWholeNumber(ArgumentResult result) => ParseNumber<long>(result, long.TryParse) ?? 0;

    public static decimal DecimalNumber(ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return 0;
        }
        var text = result.Tokens[0].Value;
        if (decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }
        result.AddError($"'{text}' is not a number ({OptionName(result)}).");
        return 0;
    }

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>An enum option written in the API's kebab-case (<c>account-admin</c>).</summary>
    public static Option<T?> Enum<T>(string name, string description) where T : struct, System.Enum => new(name)
    {
        Description = $"{description} ({Allowed<T>()}).",
        HelpName = name.TrimStart('-'),
        CustomParser = r => r.Tokens.Count == 0 ? null : ParseEnum<T>(r, r.Tokens[0].Value),
    };

    /// <summary>A repeatable enum option that also accepts comma-separated values: <c>--role a --role b</c> or <c>--role a,b</c>.</summary>
    public static Option<T[]> EnumList<T>(string name, string description) where T : struct, System.Enum => new(name)
    {
        Description = $"{description} ({Allowed<T>()}); repeat or separate with commas.",
        HelpName = name.TrimStart('-'),
        CustomParser = r => r.Tokens
            .SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(v => ParseEnum<T>(r, v))
            .OfType<T>()
            .ToArray(),
    };

    public static string Allowed<T>() where T : struct, System.Enum => string.Join(", ", System.Enum.GetValues<T>().Select(v => Fmt.Name(v)));

    private static T? ParseEnum<T>(ArgumentResult result, string value) where T : struct, System.Enum
    {
        foreach (var candidate in System.Enum.GetValues<T>())
        {
            if (string.Equals(Fmt.Name(candidate), value, StringComparison.OrdinalIgnoreCase))
            {
                return candidate;
            }
        }
        result.AddError($"'{value}' is not valid for {OptionName(result)}: use one of {Allowed<T>()}.");
        return null;
    }

    private delegate bool TryParse<T>(string text, NumberStyles styles, IFormatProvider provider, out T value);

    private static T? ParseNumber<T>(ArgumentResult result, TryParse<T> parse) where T : struct
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        return ParseNumber(result, result.Tokens[0].Value, parse);
    }

    private static T? ParseNumber<T>(ArgumentResult result, string text, TryParse<T> parse) where T : struct
    {
        if (parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }
        result.AddError($"'{text}' is not a whole number ({OptionName(result)}).");
        return null;
    }

    private static string OptionName(ArgumentResult result) =>
        result.Parent is OptionResult option ? option.Option.Name : result.Argument.Name;
}
