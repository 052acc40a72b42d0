using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Welkin.Cli.Infrastructure;

/// <summary>A cloud the user works with: its endpoint and the credential to use there.</summary>
/// <param name="Endpoint">Base URL of the cloud.</param>
/// <param name="Token">An API token stored in the profiles file (itself mode 0600).</param>
/// <param name="TokenFile">A file to read the token from at each use, instead of storing it.</param>
internal sealed record Profile(string Endpoint, string? Token = null, string? TokenFile = null)
{
    public string Credential => Token is not null ? "token" : TokenFile is not null ? "token-file " + TokenFile : "none";
}

internal sealed record ProfilesDocument(string? Current, SortedDictionary<string, Profile> Profiles);

/// <summary>
/// The profiles file: <c>$WELKIN_CONFIG_DIR/profiles.json</c>, else <c>~/.config/welkin/profiles.json</c>.
/// It may hold tokens, so it is written owner-only (0600) in an owner-only directory, replaced atomically.
/// </summary>
internal sealed partial class ProfileStore(string directory)
{
    public const string FileName = "profiles.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Path => System.IO.Path.Combine(directory, FileName);

    public static ProfileStore For(CliContext context)
    {
        var directory = context.Variable("WELKIN_CONFIG_DIR");
        if (directory is null)
        {
            var home = context.Variable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            directory = System.IO.Path.Combine(home, ".config", "welkin");
        }
        return new ProfileStore(System.IO.Path.GetFullPath(directory));
    }

    public static void ValidateName(string name)
    {
        if (!NamePattern().IsMatch(name))
        {
            throw new CliException($"'{name}' is not a valid profile name (letters, digits, '.', '_', '-'; at most 64).");
        }
    }

    public ProfilesDocument Load()
    {
        if (!File.Exists(Path))
        {
            return new ProfilesDocument(null, new SortedDictionary<string, Profile>(StringComparer.Ordinal));
        }
        try
        {
            var document = JsonSerializer.Deserialize<ProfilesDocument>(File.ReadAllText(Path), Json);
            return new ProfilesDocument(document?.Current,
                new SortedDictionary<string, Profile>(document?.Profiles ?? [], StringComparer.Ordinal));
        }
        catch (JsonException e)
        {
            throw new CliException($"The profiles file {Path} is not valid: {Welkin.Contracts.WelkinJson.Describe(e)}.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"Cannot read the profiles file {Path}: {e.Message}");
        }
    }

    public void Save(ProfilesDocument document)
    {
        try
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var temp = Path + ".tmp";
            File.Delete(temp);
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using (var stream = new FileStream(temp, options))
            {
                JsonSerializer.Serialize(stream, document, Json);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"Cannot write the profiles file {Path}: {e.Message}");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
