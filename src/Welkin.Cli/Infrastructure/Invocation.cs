using System.CommandLine;
using System.Text.Json;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Infrastructure;

/// <summary>One run of one command: its parsed arguments, output, selected profile and client.</summary>
internal sealed class Invocation(CliApp app, ParseResult parse, CancellationToken ct) : IDisposable
{
    public const string EnvEndpoint = "WELKIN_ENDPOINT";

    public const string EnvToken = "WELKIN_TOKEN";

    private WelkinClient? _client;

    public ParseResult Parse => parse;

    public CancellationToken Ct => ct;

    public CliContext Context => app.Context;

    public Output Out { get; } = new(app.Context.Out);

    public TextWriter Err => app.Context.Err;

    public ProfileStore Store => app.Store;

    public WaitOptions Waiting => app.Waiting;

    /// <summary>The <c>--output</c> format; always a table for a command whose own <c>--output</c> names a file.</summary>
    public OutputFormat Format =>
        parse.CommandResult.Command.Options.Any(o => o.Name == app.OutputOption.Name && o != app.OutputOption) ? OutputFormat.Table : parse.GetValue(app.OutputOption) switch
        {
            "json" => OutputFormat.Json,
            "yaml" => OutputFormat.Yaml,
            "value" => OutputFormat.Value,
            _ => OutputFormat.Table,
        };

    /// <summary>Whether the result goes to a program (json, yaml, value) rather than to people.</summary>
    public bool Structured => Format != OutputFormat.Table;

    /// <summary>The fields <c>--column</c> chose for <c>--output value</c>: repeated or separated by commas.</summary>
    public IReadOnlyList<string> Columns =>
        (parse.GetValue(app.ColumnOption) ?? []).SelectMany(c => c.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();

    /// <summary>Writes a result for a program in the chosen format.</summary>
    public void Document<T>(T value) => Out.Document(value, Format, Columns);

    public T? Value<T>(Option<T> option) => parse.GetValue(option);

    public T Value<T>(Argument<T> argument) => parse.GetValue(argument)!;

    /// <summary>The profile in use: <c>--profile</c>, else <c>WELKIN_PROFILE</c>, else the file's current profile.</summary>
    public (string Name, Profile Profile) SelectedProfile()
    {
        var document = Store.Load();
        var name = SelectedProfileName(document);
        if (name is null)
        {
            throw new CliException(document.Profiles.Count == 0
                ? "No profile yet: add one with 'welkin profile add NAME --endpoint URL'."
                : "No profile selected: choose one with 'welkin profile use NAME' or --profile NAME.");
        }
        if (!document.Profiles.TryGetValue(name, out var profile))
        {
            throw new CliException($"There is no profile '{name}' (see 'welkin profile list').");
        }
        return (name, profile);
    }

    public string? SelectedProfileName(ProfilesDocument document) =>
        parse.GetValue(app.ProfileOption) ?? Context.Variable("WELKIN_PROFILE") ?? document.Current;

    /// <summary>
    /// A client for the cloud in use, with its token when it has one. Precedence: <c>--profile</c>
    /// names a profile and takes it whole; otherwise <c>WELKIN_ENDPOINT</c> replaces the profile (its
    /// token then comes from <c>WELKIN_TOKEN</c> alone, so a profile's token never goes to another
    /// endpoint), and <c>WELKIN_TOKEN</c> replaces the selected profile's token.
    /// </summary>
    public WelkinClient Client()
    {
        if (_client is not null)
        {
            return _client;
        }
        var fromFlag = parse.GetValue(app.ProfileOption) is not null;
        var envToken = fromFlag ? null : Context.Variable(EnvToken);
        string name;
        string url;
        string? token;
        if (!fromFlag && Context.Variable(EnvEndpoint) is { } envEndpoint)
        {
            (name, url, token) = (EnvEndpoint, envEndpoint, envToken);
            app.TokenSource = token is null ? null : EnvToken;
        }
        else
        {
            var (profileName, profile) = SelectedProfile();
            (name, url) = (profileName, profile.Endpoint);
            token = envToken ?? ProfileToken(profileName, profile);
            app.TokenSource = token is null ? null
                : envToken is not null ? EnvToken
                : profile.TokenFile is { } file ? $"the token file {file} of profile '{profileName}'"
                : $"the token stored in profile '{profileName}'";
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliException($"The endpoint '{url}' ({(name == EnvEndpoint ? EnvEndpoint : "profile " + name)}) is not an http or https URL.");
        }
        app.Target = (name, endpoint);
        _client = new WelkinClient(app.Http, endpoint, string.IsNullOrEmpty(token) ? null : token);
        return _client;
    }

    /// <summary>The profile a command stores a new token in; refused while WELKIN_ENDPOINT points elsewhere.</summary>
    public (string Name, Profile Profile) ProfileToStoreTokenIn()
    {
        if (parse.GetValue(app.ProfileOption) is null && Context.Variable(EnvEndpoint) is not null)
        {
            throw new CliException($"{EnvEndpoint} is set, so this command talks to that endpoint, not to a profile: "
                + $"to store the token in a profile, unset {EnvEndpoint} or name the profile with --profile.");
        }
        return SelectedProfile();
    }

    private static string? ProfileToken(string name, Profile profile)
    {
        if (profile.TokenFile is not { } file)
        {
            return profile.Token;
        }
        try
        {
            return File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"Cannot read the token file of profile '{name}' ({file}): {e.Message}");
        }
    }

    /// <summary>Prints a single resource: the document for programs, the given fields for people.</summary>
    public int Show<T>(T value, Action<Output, T> table)
    {
        if (Structured)
        {
            Document(value);
        }
        else
        {
            table(Out, value);
        }
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Prints a page: the page document for json and yaml, the items' values for value, a table for
    /// people; the last two with a hint about the next page on standard error.
    /// </summary>
    public int ShowPage<T>(Page<T> page, string empty, params Column<T>[] columns)
    {
        switch (Format)
        {
            case OutputFormat.Json or OutputFormat.Yaml:
                Document(page);
                return ExitCodes.Ok;
            case OutputFormat.Value:
                Out.Values(page.Items, Columns);
                break;
            default:
                Out.Table(page.Items, empty, columns);
                break;
        }
        if (page.Next is { } next)
        {
            Err.WriteLine($"More results: repeat with --after {next}");
        }
        return ExitCodes.Ok;
    }

    public int ShowList<T>(IReadOnlyList<T> items, string empty, params Column<T>[] columns)
    {
        if (Structured)
        {
            Document(items);
        }
        else
        {
            Out.Table(items, empty, columns);
        }
        return ExitCodes.Ok;
    }

    /// <summary>Reads a secret: one line of standard input with <c>--password-stdin</c>, else a prompt on the terminal.</summary>
    public string ReadSecret(bool fromStdin, string prompt, bool confirm = false)
    {
        if (fromStdin)
        {
            var line = Context.In.ReadLine();
            return string.IsNullOrEmpty(line) ? throw new CliException("No password on standard input.") : line;
        }
        if (Context.PromptSecret is not { } ask)
        {
            throw new CliException("There is no terminal to ask for the password on: pass it with --password-stdin.");
        }
        var secret = ask(prompt);
        if (string.IsNullOrEmpty(secret))
        {
            throw new CliException("No password given.");
        }
        if (confirm && ask("Repeat " + prompt.ToLowerInvariant()) != secret)
        {
            throw new CliException("The passwords do not match.");
        }
        return secret;
    }

    /// <summary>
    /// Reads a JSON document from a file (or standard input for <c>-</c>) strictly, as the server will,
    /// so that a typo is reported with its place before anything is sent.
    /// </summary>
    public T ReadSpec<T>(string path, string what)
    {
        var element = ReadJson(path);
        try
        {
            return element.Deserialize<T>(WelkinJson.Server) ?? throw new CliException($"{path} holds no {what}.");
        }
        catch (JsonException e)
        {
            throw new CliException($"{path} is not a valid {what}: {WelkinJson.Describe(e)}.");
        }
    }

    public JsonElement ReadJson(string path)
    {
        string text;
        try
        {
            text = path == "-" ? Context.In.ReadToEnd() : File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"Cannot read {path}: {e.Message}");
        }
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new CliException($"{path} is not JSON: {e.Message}");
        }
    }

    public void Dispose() => _client?.Dispose();
}
