using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin login</c>, <c>whoami</c> and <c>health</c>.</summary>
internal static class SessionCommands
{
    public static Command Login(CliApp app)
    {
        var name = Opt.Required("--name", "Your principal name.", "name");
        var account = Opt.Text("--account", "Your account's name (omit for provider principals).", "account");
        var stdin = Opt.Flag("--password-stdin", "Read the password from standard input instead of prompting.");
        var command = new Command("login", "Log in with a password and store the new token in the profile.") { name, account, stdin };
        app.Handle(command, async inv =>
        {
            var (profileName, _) = inv.ProfileToStoreTokenIn();
            var password = inv.ReadSecret(inv.Value(stdin), "Password: ");
            var response = await inv.Client().Auth.LoginAsync(new LoginRequest(inv.Value(name)!, password, inv.Value(account)), inv.Ct);
            var document = inv.Store.Load();
            document.Profiles[profileName] = document.Profiles[profileName] with { Token = response.Token.Secret, TokenFile = null };
            inv.Store.Save(document);
            if (inv.Structured)
            {
                inv.Document(response.Principal);
            }
            else
            {
                var expires = response.Token.Expires is { } e ? $", expires {Fmt.Time(e)}" : "";
                inv.Out.Line($"Logged in as {response.Principal.Name} ({response.Principal.Id}); token {response.Token.Id} stored in profile '{profileName}'{expires}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command WhoAmI(CliApp app)
    {
        var command = new Command("whoami", "Show who the profile's credential is, its account, roles and permissions.");
        app.Handle(command, async inv =>
        {
            var me = await inv.Client().Auth.WhoAmIAsync(inv.Ct);
            return inv.Show(me, (o, m) => o.Fields(
                ("Principal", $"{m.Principal.Name} ({m.Principal.Id})"),
                ("Kind", Fmt.Name(m.Principal.Kind)),
                ("Account", m.Principal.AccountId is { } id ? $"{m.AccountName} ({id})" : "provider"),
                ("Roles", Fmt.List(m.Principal.Roles.Select(Fmt.Name))),
                ("Permissions", Fmt.List(m.Permissions)),
                ("Endpoint", inv.Client().Endpoint.AbsoluteUri)));
        });
        return command;
    }

    public static Command Health(CliApp app)
    {
        var command = new Command("health", "Check whether the cloud is live and ready (exit 1 when not ready).");
        app.Handle(command, async inv =>
        {
            var client = inv.Client();
            var health = new { Live = await client.Health.IsLiveAsync(inv.Ct), Ready = await client.Health.IsReadyAsync(inv.Ct) };
            inv.Show(health, (o, h) => o.Fields(("Endpoint", client.Endpoint.AbsoluteUri), ("Live", h.Live ? "yes" : "no"), ("Ready", h.Ready ? "yes" : "no")));
            return health.Ready ? ExitCodes.Ok : ExitCodes.ApiProblem;
        });
        return command;
    }
}
