using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Welkin.Cli.Infrastructure;

/// <summary>
/// <c>--wait-timeout</c> and <c>--advance-clock</c>, added to every command that waits for a job
/// (those with <c>--wait</c>, and <c>job wait</c>), so that all waits behave alike.
/// </summary>
internal sealed partial class WaitOptions
{
    public Option<TimeSpan?> Timeout { get; } = new("--wait-timeout")
    {
        Description = "Stop waiting after this long (30s, 10m, 2h; real time) and exit 4; the job goes on on the server.",
        HelpName = "duration",
        CustomParser = ParseTimeout,
    };

    public Option<bool> AdvanceClock { get; } = new("--advance-clock")
    {
        Description = "On a server in simulation mode, advance its virtual clock a minute at a time until the job ends (needs clock-advance).",
    };

    public void AddTo(Command command)
    {
        var wait = command.Options.FirstOrDefault(o => o.Name == "--wait") as Option<bool>;
        if (wait is not null || command is { Name: "wait", Action: not null })
        {
            command.Options.Add(Timeout);
            command.Options.Add(AdvanceClock);
            if (wait is not null)
            {
                command.Validators.Add(result =>
                {
                    if (!result.GetValue(wait) && (result.GetResult(Timeout) is not null || result.GetValue(AdvanceClock)))
                    {
                        result.AddError("--wait-timeout and --advance-clock go with --wait.");
                    }
                });
            }
        }
        foreach (var sub in command.Subcommands)
        {
            AddTo(sub);
        }
    }

    private static TimeSpan? ParseTimeout(ArgumentResult result)
    {
        var text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;
        var m = ShortDuration().Match(text);
        if (m.Success && long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) is var n and > 0)
        {
            return m.Groups[2].Value switch
            {
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => TimeSpan.FromDays(n),
            };
        }
        result.AddError($"'{text}' is not a duration for --wait-timeout (30s, 10m, 2h or 1d).");
        return null;
    }

    [GeneratedRegex("^([0-9]{1,5})(s|m|h|d)$", RegexOptions.CultureInvariant)]
    private static partial Regex ShortDuration();
}
