using System.CommandLine;
using Welkin.Cli.Infrastructure;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin profile</c>: the clouds a user works with, side by side, and the credential for each.</summary>
internal static class ProfileCommands
{
    private sealed record ProfileRow(string Name, string Endpoint, string Credential, bool Current);

    public static Command Create(CliApp app) => new("profile", "Manage profiles: one per cloud (endpoint and credential).")
    {
        Add(app), List(app), Use(app), Remove(app), Show(app),
    };

    private static Command Add(CliApp app)
    {
        var name = new Argument<string>("NAME") { Description = "The profile's name." };
        var endpoint = Opt.Required("--endpoint", "Base URL of the cloud, for example https://cloud.example/.", "url");
        var token = Opt.Text("--token", "An API token to store in the profile (visible in shell history: prefer --token-file).", "token");
        var tokenFile = Opt.Text("--token-file", "A file holding the API token, read at each use.", "file");
        var use = Opt.Flag("--use", "Make it the current profile (the first profile always is).");
        var command = new Command("add", "Add a profile.") { name, endpoint, token, tokenFile, use };
        app.Handle(command, inv =>
        {
            var profileName = inv.Value(name);
            ProfileStore.ValidateName(profileName);
            var url = inv.Value(endpoint)!;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new CliException($"'{url}' is not an http or https URL.");
            }
            if (inv.Value(token) is not null && inv.Value(tokenFile) is not null)
            {
                throw new CliException("Give either --token or --token-file, not both.");
            }
            var file = inv.Value(tokenFile) is { } f ? Path.GetFullPath(f) : null;
            if (file is not null && !File.Exists(file))
            {
                throw new CliException($"The token file {file} does not exist.");
            }
            var document = inv.Store.Load();
            if (document.Profiles.ContainsKey(profileName))
            {
                throw new CliException($"Profile '{profileName}' exists already; remove it first ('welkin profile remove {profileName}').");
            }
            document.Profiles[profileName] = new Profile(uri.AbsoluteUri, inv.Value(token), file);
            var current = inv.Value(use) || document.Current is null ? profileName : document.Current;
            inv.Store.Save(document with { Current = current });
            inv.Err.WriteLine($"Added profile '{profileName}' for {uri.AbsoluteUri}" + (current == profileName ? "; it is the current profile." : "."));
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var command = new Command("list", "List profiles (never their tokens).");
        app.Handle(command, inv =>
        {
            var document = inv.Store.Load();
            var selected = inv.SelectedProfileName(document);
            var rows = document.Profiles.Select(p => new ProfileRow(p.Key, p.Value.Endpoint, p.Value.Credential, p.Key == selected)).ToList();
            return Task.FromResult(inv.ShowList(rows, "No profiles: add one with 'welkin profile add NAME --endpoint URL'.",
                new Column<ProfileRow>("", r => r.Current ? "*" : " "),
                new Column<ProfileRow>("Name", r => r.Name),
                new Column<ProfileRow>("Endpoint", r => r.Endpoint),
                new Column<ProfileRow>("Credential", r => r.Credential)));
        });
        return command;
    }

    private static Command Use(CliApp app)
    {
        var name = new Argument<string>("NAME") { Description = "The profile to make current." };
        var command = new Command("use", "Make a profile the current one.") { name };
        app.Handle(command, inv =>
        {
            var document = inv.Store.Load();
            var profileName = inv.Value(name);
            if (!document.Profiles.TryGetValue(profileName, out var profile))
            {
                throw new CliException($"There is no profile '{profileName}' (see 'welkin profile list').");
            }
            inv.Store.Save(document with { Current = profileName });
            inv.Err.WriteLine($"Profile '{profileName}' is now current ({profile.Endpoint}).");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command Remove(CliApp app)
    {
        var name = new Argument<string>("NAME") { Description = "The profile to remove." };
        var command = new Command("remove", "Remove a profile and the token stored in it.") { name };
        app.Handle(command, inv =>
        {
            var document = inv.Store.Load();
            var profileName = inv.Value(name);
            if (!document.Profiles.Remove(profileName))
            {
                throw new CliException($"There is no profile '{profileName}' (see 'welkin profile list').");
            }
            inv.Store.Save(document with { Current = document.Current == profileName ? null : document.Current });
            inv.Err.WriteLine($"Removed profile '{profileName}'.");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command Show(CliApp app)
    {
        var command = new Command("show", "Show the profile in use (selected by --profile, $WELKIN_PROFILE or 'profile use').");
        app.Handle(command, inv =>
        {
            var (name, profile) = inv.SelectedProfile();
            var row = new ProfileRow(name, profile.Endpoint, profile.Credential, true);
            return Task.FromResult(inv.Show(row, (o, r) => o.Fields(
                ("Profile", r.Name), ("Endpoint", r.Endpoint), ("Credential", r.Credential), ("Profiles file", inv.Store.Path))));
        });
        return command;
    }
}
