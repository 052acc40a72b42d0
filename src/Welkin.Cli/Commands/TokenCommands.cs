using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin token</c>: API tokens. A token's secret is printed once, when it is created.</summary>
internal static class TokenCommands
{
    public const string ShownOnceWarning =
        "Warning: this is the only time the token is shown. Store it somewhere safe (a file with mode 0600, a secret store); anyone holding it acts as its principal.";

    public static Command Create(CliApp app) => new("token", "Create, list and revoke API tokens.")
    {
        CreateToken(app), List(app), Revoke(app),
    };

    private static Option<string?> Principal() =>
        Opt.Text("--principal", "The principal whose tokens these are (default: yourself).", "id");

    private static async Task<string> PrincipalIdAsync(Invocation inv, Option<string?> principal) =>
        inv.Value(principal) ?? (await inv.Client().Auth.WhoAmIAsync(inv.Ct)).Principal.Id;

    private static Command CreateToken(CliApp app)
    {
        var principal = Principal();
        var name = Opt.Text("--name", "A name to recognise the token by.", "name");
        var expires = Opt.Number("--expires-in-days", "Days until the token expires (default: the server's).");
        var save = Opt.Flag("--save", "Store the token in the profile instead of printing it.");
        var toFile = Opt.Text("--to-file", "Write the token to this new file (mode 0600, for a profile's --token-file) instead of printing it.", "file");
        var command = new Command("create", "Create an API token; prints its secret once.") { principal, name, expires, save, toFile };
        app.Handle(command, async inv =>
        {
            if (inv.Value(save) && inv.Value(toFile) is not null)
            {
                throw new CliException("Give either --save or --to-file, not both.");
            }
            var profileName = inv.Value(save) ? inv.ProfileToStoreTokenIn().Name : null;
            // The file is created (owner-only) before the token exists, so a path that cannot be written costs no token; unwritten, it is removed.
            await using var file = inv.Value(toFile) is { } path ? TokenFile.CreateNew(path) : null;
            var principalId = await PrincipalIdAsync(inv, principal);
            var token = await inv.Client().Tokens.CreateAsync(principalId, new CreateTokenRequest(inv.Value(name), inv.Value(expires)), inv.Ct);
            if (profileName is not null)
            {
                var document = inv.Store.Load();
                document.Profiles[profileName] = document.Profiles[profileName] with { Token = token.Secret, TokenFile = null };
                inv.Store.Save(document);
                inv.Err.WriteLine($"Token {token.Id} is stored in profile '{profileName}'.");
                return inv.Show(token with { Secret = "(stored in profile)" }, (o, t) => o.Fields(("Id", t.Id), ("Expires", Fmt.Time(t.Expires) ?? "never")));
            }
            if (file is not null)
            {
                await file.WriteAsync(token.Secret, inv.Ct);
                inv.Err.WriteLine($"Token {token.Id} is written to {file.Path} (mode 0600).");
                return inv.Show(token with { Secret = "(written to " + file.Path + ")" }, (o, t) => o.Fields(("Id", t.Id), ("Expires", Fmt.Time(t.Expires) ?? "never")));
            }
            inv.Show(token, (o, t) => o.Fields(("Id", t.Id), ("Principal", principalId), ("Expires", Fmt.Time(t.Expires) ?? "never"), ("Token", t.Secret)));
            inv.Err.WriteLine(ShownOnceWarning);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var principal = Principal();
        var command = new Command("list", "List a principal's tokens (never their secrets).") { principal };
        app.Handle(command, async inv =>
        {
            var tokens = await inv.Client().Tokens.ListAsync(await PrincipalIdAsync(inv, principal), inv.Ct);
            return inv.ShowList(tokens, "No tokens.",
                new Column<TokenView>("Id", t => t.Id),
                new Column<TokenView>("Name", t => t.Name),
                new Column<TokenView>("Created", t => Fmt.Time(t.Created)),
                new Column<TokenView>("Expires", t => Fmt.Time(t.Expires) ?? "never"),
                new Column<TokenView>("Last used", t => Fmt.Time(t.LastUsed)),
                new Column<TokenView>("Revoked", t => Fmt.Time(t.Revoked)));
        });
        return command;
    }

    private static Command Revoke(CliApp app)
    {
        var id = Opt.Id("token");
        var command = new Command("revoke", "Revoke a token; it stops working at once.") { id };
        app.Handle(command, async inv =>
        {
            var token = await inv.Client().Tokens.RevokeAsync(inv.Value(id), inv.Ct);
            return inv.Show(token, (o, t) => o.Fields(("Id", t.Id), ("Principal", t.PrincipalId), ("Name", t.Name), ("Revoked", Fmt.Time(t.Revoked))));
        });
        return command;
    }
}
