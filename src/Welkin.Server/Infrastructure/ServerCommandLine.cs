using System.Text;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// Checks the server's arguments before anything starts. An argument is
/// <list type="bullet">
/// <item><c>-h</c> or <c>--help</c>;</item>
/// <item>a switch of <see cref="WelkinOptions.Switches"/>, spelled exactly, with its value
/// (<c>--port 9090</c> or <c>--port=9090</c>);</item>
/// <item>a configuration key (<c>--Section:Key=value</c> or <c>--Section:Key value</c>): a name that
/// holds ':', or names one of <see cref="ConfigurationSections"/> or a host setting (environment,
/// contentRoot, applicationName), in any case. Hosts that pass settings as arguments (the test host
/// passes <c>--Welkin:DataDir=...</c> and <c>--Fabric=</c>) depend on this.</item>
/// </list>
/// Anything else is refused with exit code 2, naming the argument.
/// </summary>
public static class ServerCommandLine
{
    /// <summary>The configuration sections the server reads.</summary>
    public static readonly IReadOnlySet<string> ConfigurationSections = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Welkin", "Database", "Security", "Jobs", "Contracts", "Fabric", "Placement", "Metering", "Sla", "Scaling",
        "Monitoring", "Billing", "Logging", "Accounts", "Idempotency", "Audit", "Federation", "Uploads", "S3", "Vault", "Portal",
        "Console",
    };

    private static readonly HashSet<string> HostSettings = new(StringComparer.OrdinalIgnoreCase) { "environment", "contentRoot", "applicationName" };

    /// <summary>What the arguments ask for: help, a start (both null), or an error to print.</summary>
    public sealed record Parsed(bool Help, string? Error);

    /// <summary>Prints the help or the error; returns the exit code, or null when the server should start.</summary>
    public static int? Check(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var parsed = Parse(args);
        if (parsed.Error is not null)
        {
            error.WriteLine($"welkin-server: {parsed.Error}; see welkin-server --help");
            return ServerExitCodes.Usage;
        }
        if (parsed.Help)
        {
            output.Write(Help());
            return 0;
        }
        return null;
    }

    public static Parsed Parse(IReadOnlyList<string> args)
    {
        var help = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                help = true;
                continue;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                return new(help, $"unexpected argument '{arg}'");
            }
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            if (!WelkinOptions.CommandLineSwitches.ContainsKey(name) && !IsConfigurationKey(name[2..]))
            {
                return new(help, UnknownOption(name));
            }
            if (equals < 0)
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    return new(help, $"option '{name}' needs a value");
                }
                i++;
            }
        }
        return new(help, null);
    }

    public static bool IsConfigurationKey(string name) =>
        name.Length > 0 && (name.Contains(':', StringComparison.Ordinal) || ConfigurationSections.Contains(name) || HostSettings.Contains(name));

    private static string UnknownOption(string name)
    {
        var closest = WelkinOptions.Switches
            .Select(s => (s.Name, Distance: Distance(s.Name, name.ToLowerInvariant())))
            .Where(s => s.Distance <= 2)
            .OrderBy(s => s.Distance)
            .Select(s => s.Name)
            .FirstOrDefault();
        return closest is null ? $"unknown option '{name}'" : $"unknown option '{name}' (did you mean {closest}?)";
    }

    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            previous = current;
        }
        return previous[b.Length];
    }

    public static string Help()
    {
        var text = new StringBuilder();
        text.AppendLine("usage: welkin-server [options] [--Section:Key=value ...]");
        text.AppendLine(AuditVerifyCommand.Usage);
        text.AppendLine(FederationCaCommand.Usage);
        text.AppendLine();
        text.AppendLine("Runs a Welkin cloud: the API on http://ADDRESS:PORT/api/v1.");
        text.AppendLine();
        text.AppendLine("Options (each also --name=value):");
        var width = WelkinOptions.Switches.Max(s => s.Name.Length + s.Value.Length) + 4;
        foreach (var s in WelkinOptions.Switches)
        {
            text.AppendLine($"  {(s.Name + " " + s.Value).PadRight(width)}{s.Help}");
        }
        text.AppendLine($"  {"-h, --help".PadRight(width)}print this help and exit");
        text.AppendLine();
        text.AppendLine("Environment variables (the command line wins over them):");
        var envWidth = WelkinOptions.Switches.Max(s => s.EnvironmentVariable.Length) + 3;
        foreach (var s in WelkinOptions.Switches)
        {
            text.AppendLine($"  {s.EnvironmentVariable.PadRight(envWidth)}{s.Name}");
        }
        text.AppendLine();
        text.AppendLine("Any other setting is a configuration key: --Section:Key=value (e.g. --Accounts:SignUp=closed),");
        text.AppendLine($"or Section__Key in the environment. Sections: {string.Join(", ", ConfigurationSections)}.");
        text.AppendLine("appsettings.json beside the server binary is read first, whatever the working directory.");
        text.AppendLine();
        text.AppendLine("Subcommands:");
        text.AppendLine("  audit verify    check the audit log's hash chain offline (exit 0 valid, 1 broken, 2 cannot check)");
        text.AppendLine("  federation ca   run the federation's certificate authority: init, issue, revoke, crl (exit 0 done, 1 refused or failed, 2 bad arguments)");
        text.AppendLine();
        text.AppendLine("Exit codes: " + string.Join(", ", ServerExitCodes.All.Select(c => $"{c.Code} {c.Meaning}")) + ".");
        return text.ToString();
    }
}
