using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using Welkin.Cli.Commands;
using Welkin.Cli.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli;

/// <summary>
/// The <c>welkin</c> command. <see cref="RunAsync"/> parses the arguments, runs one command and maps
/// every failure to a one-line message and an exit code (<see cref="ExitCodes"/>): 1 for a problem the
/// server answered, 2 for a usage error, 3 when the endpoint cannot be reached. No stack trace is
/// printed for anything a user can cause.
/// </summary>
public sealed class CliApp : IDisposable
{
    private HttpClient? _http;

    private CliApp(CliContext context)
    {
        Context = context;
        Store = ProfileStore.For(context);
        ProfileOption = new Option<string?>("--profile")
        {
            Description = "The profile (cloud and credential) to use; default: $WELKIN_PROFILE, else the current profile.",
            HelpName = "name",
            Recursive = true,
        };
        // On every command (AddOutputOption), so -o goes anywhere on the line, before the command
        // too, except after a command whose own --output names a file (image download).
        OutputOption = new Option<string>("--output", "-o")
        {
            Description = "Output format: table for people; json (the response document), yaml (the same as YAML) or value (--column fields, a line per result) for programs.",
            HelpName = "table|json|yaml|value",
            DefaultValueFactory = _ => "table",
        };
        OutputOption.AcceptOnlyFromAmong("table", "json", "yaml", "value");
        ColumnOption = new Option<string[]>("--column", "-c")
        {
            Description = "With --output value: a field to print (repeat, or separate with commas; spec.name reaches inside); default: id, else every field.",
            HelpName = "field",
            Recursive = true,
        };
    }

    internal CliContext Context { get; }

    internal ProfileStore Store { get; }

    internal Option<string?> ProfileOption { get; }

    internal Option<string> OutputOption { get; }

    internal WaitOptions Waiting { get; } = new();

    internal Option<string[]> ColumnOption { get; }

    /// <summary>The profile and endpoint the command talks to, for error messages.</summary>
    internal (string Profile, Uri Endpoint)? Target { get; set; }

    /// <summary>Where the token sent comes from, for a 401; null when none was sent.</summary>
    internal string? TokenSource { get; set; }

    // Uploads and downloads of large images take as long as they take: no overall timeout, but a
    // bounded wait for the connection so an unreachable endpoint fails fast.
    internal HttpClient Http => _http ??= new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        using var app = new CliApp(context);
        return await app.RunAsync(args, ct);
    }

    /// <summary>The command tree, for tests that walk every command and option.</summary>
    internal static Command Tree()
    {
        using var app = new CliApp(new CliContext { Out = TextWriter.Null, Err = TextWriter.Null });
        return app.BuildRoot();
    }

    /// <summary>Runs <paramref name="action"/> when <paramref name="command"/> is invoked.</summary>
    internal void Handle(Command command, Func<Invocation, Task<int>> action) =>
        command.SetAction(async (parse, ct) =>
        {
            using var invocation = new Invocation(this, parse, ct);
            if (invocation.Columns.Count > 0 && invocation.Format != OutputFormat.Value)
            {
                throw new CliException("--column chooses the fields of --output value: add -o value.");
            }
            return await action(invocation);
        });

    internal Command BuildRoot()
    {
        var root = new Command("welkin", "Work with Welkin clouds: catalog, accounts, principals, images and more.")
        {
            new HelpOption(),
            new VersionOption(),
            ProfileOption,
            ColumnOption,
            CompletionCommands.Create(this),
            ProfileCommands.Create(this),
            SessionCommands.Login(this),
            SessionCommands.WhoAmI(this),
            SessionCommands.Health(this),
            AccountCommands.Create(this),
            LimitRequestCommands.Create(this),
            PrincipalCommands.Create(this),
            TokenCommands.Create(this),
            AccessKeyCommands.Create(this),
            SecurityCommands.Roles(this),
            SecurityCommands.Audit(this),
            SecurityCommands.Hosts(this),
            PeerCommands.Create(this),
            AgreementCommands.Create(this),
            BurstCommands.Create(this),
            TemplateCommands.Create(this),
            OfferingCommands.Create(this),
            OfferingCommands.Catalog(this),
            ImageCommands.Create(this),
            UploadCommands.Uploads(this),
            UploadCommands.AccountImages(this),
            ContractCommands.Create(this),
            InstanceCommands.Create(this),
            MachineCommands.Create(this),
            JobCommands.Create(this),
            EventCommands.Create(this),
            VolumeCommands.Create(this),
            VaultCommands.Create(this),
            NetworkCommands.Create(this),
            UsageCommands.Create(this),
            SlaCommands.Clock(this),
            MonitoringCommands.Fabric(this),
            InvoiceCommands.Create(this),
        };
        root.Subcommands.Single(c => c.Name == "machine").Subcommands.Add(ConfigureCommands.Machine(this));
        root.Subcommands.Single(c => c.Name == "instance").Subcommands.Add(ConfigureCommands.Instance(this));
        root.Subcommands.Single(c => c.Name == "instance").Subcommands.Add(SlaCommands.InstancePolicy(this));
        root.Subcommands.Single(c => c.Name == "contract").Subcommands.Add(UsageCommands.ContractReport(this));
        root.Subcommands.Single(c => c.Name == "contract").Subcommands.Add(SlaCommands.ContractSla(this));
        foreach (var kind in new[] { "machine", "instance", "contract" })
        {
            root.Subcommands.Single(c => c.Name == kind).Subcommands.Add(MonitoringCommands.Measurements(this, kind));
        }
        Waiting.AddTo(root);
        AddOutputOption(root);
        return root;
    }

    private void AddOutputOption(Command command)
    {
        if (!command.Options.Any(o => o.Name == OutputOption.Name))
        {
            command.Options.Add(OutputOption);
        }
        foreach (var sub in command.Subcommands)
        {
            AddOutputOption(sub);
        }
    }

    private async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var root = BuildRoot();
        if (args is [var first, ..] && first.StartsWith(CompletionCommands.SuggestDirective, StringComparison.Ordinal))
        {
            return CompletionCommands.Suggest(root, args, Context.Out);
        }
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // "Required command was not provided" only repeats what an unrecognized token already says.
            var errors = parse.Errors.Count > 1
                ? parse.Errors.Where(e => e.SymbolResult is not CommandResult || parse.UnmatchedTokens.Count == 0 || e.Message.Contains('\'', StringComparison.Ordinal))
                : parse.Errors;
            foreach (var error in errors)
            {
                Context.Err.WriteLine("Error: " + WithSuggestion(parse, error.Message));
            }
            Context.Err.WriteLine($"See '{CommandPath(parse)} --help'.");
            return ExitCodes.Usage;
        }
        var configuration = new InvocationConfiguration
        {
            Output = Context.Out,
            Error = Context.Err,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = Context.HandleSignals ? TimeSpan.FromSeconds(2) : null,
        };
        try
        {
            return await parse.InvokeAsync(configuration, ct);
        }
        catch (CliException e)
        {
            Context.Err.WriteLine("Error: " + e.Message);
            return e.ExitCode;
        }
        catch (WelkinApiException e)
        {
            WriteProblem(e.Problem);
            return ExitCodes.ApiProblem;
        }
        catch (WelkinProtocolException e)
        {
            Context.Err.WriteLine($"Error: unexpected answer from {Target?.Endpoint}: {e.Message}");
            return ExitCodes.ApiProblem;
        }
        catch (HttpRequestException e)
        {
            var reason = e.InnerException?.Message ?? e.Message;
            Context.Err.WriteLine(e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError
                ? $"Error: cannot reach {Target?.Endpoint}: {reason}"
                : $"Error: the connection to {Target?.Endpoint} failed: {reason}");
            return ExitCodes.Connection;
        }
        catch (OperationCanceledException e) when (e.InnerException is TimeoutException)
        {
            Context.Err.WriteLine($"Error: cannot reach {Target?.Endpoint}: the connection timed out.");
            return ExitCodes.Connection;
        }
        catch (OperationCanceledException)
        {
            Context.Err.WriteLine("Cancelled.");
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Context.Err.WriteLine("Error: " + e.Message);
            return ExitCodes.ApiProblem;
        }
    }

    private void WriteProblem(WelkinProblem problem)
    {
        var err = Context.Err;
        err.WriteLine(problem.Detail is { Length: > 0 } detail ? $"Error: {problem.Title}: {detail}" : $"Error: {problem.Title}");
        foreach (var (field, messages) in problem.Errors ?? new Dictionary<string, string[]>())
        {
            foreach (var message in messages)
            {
                err.WriteLine($"  {field}: {message}");
            }
        }
        foreach (var hint in ProblemHints.For(problem, Target?.Profile, TokenSource))
        {
            err.WriteLine("  " + hint);
        }
        err.WriteLine($"  (status {problem.Status}, code {problem.Code}" + (problem.CorrelationId is { } id ? $", correlation id {id})" : ")"));
    }

    // An unrecognized token is compared with what could stand there: the subcommands of the
    // command reached so far, or its options (with the root's, which apply everywhere).
    private static string WithSuggestion(ParseResult parse, string message)
    {
        var token = parse.UnmatchedTokens.FirstOrDefault(t => message.Contains($"'{t}'", StringComparison.Ordinal));
        if (token is null)
        {
            return message;
        }
        var command = parse.CommandResult.Command;
        var names = token.StartsWith('-')
            ? command.Options.Concat(parse.RootCommandResult.Command.Options.Where(o => o.Recursive)).SelectMany(o => o.Aliases.Prepend(o.Name)).Distinct()
            : command.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Aliases.Prepend(c.Name));
        var hint = Spelling.Hint(token, names.Where(n => !n.StartsWith('/')));
        return hint.Length == 0 ? message : message.TrimEnd('.') + hint + ".";
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (SymbolResult? result = parse.CommandResult; result is not null; result = result.Parent)
        {
            if (result is CommandResult command)
            {
                names.Insert(0, command.Command.Name);
            }
        }
        return string.Join(' ', names);
    }

    public void Dispose() => _http?.Dispose();
}
