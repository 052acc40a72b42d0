using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin access-key</c>: S3 access keys. A key's secret is printed once, when it is created.</summary>
internal static class AccessKeyCommands
{
    public const string ShownOnceWarning =
        "Warning: this is the only time the secret access key is shown. Store it somewhere safe (an S3 client's credentials file with mode 0600, a secret store); anyone holding it acts as its principal on the S3 endpoint.";

    public static Command Create(CliApp app) => new("access-key", "Create, list and revoke S3 access keys.")
    {
        CreateKey(app), List(app), Revoke(app),
    };

    private static Option<string?> Principal() =>
        Opt.Text("--principal", "The principal whose access keys these are (default: yourself).", "id");

    private static async Task<string> PrincipalIdAsync(Invocation inv, Option<string?> principal) =>
        inv.Value(principal) ?? (await inv.Client().Auth.WhoAmIAsync(inv.Ct)).Principal.Id;

    private static Command CreateKey(CliApp app)
    {
        var principal = Principal();
        var name = Opt.Text("--name", "A name to recognise the key by.", "name");
        var command = new Command("create", "Create an S3 access key; prints its secret once.") { principal, name };
        app.Handle(command, async inv =>
        {
            var principalId = await PrincipalIdAsync(inv, principal);
            var key = await inv.Client().AccessKeys.CreateAsync(principalId, new CreateAccessKeyRequest(inv.Value(name)), inv.Ct);
            inv.Show(key, (o, k) => o.Fields(("Access key id", k.Id), ("Secret access key", k.Secret), ("Principal", k.PrincipalId), ("Name", k.Name)));
            inv.Err.WriteLine(ShownOnceWarning);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var principal = Principal();
        var command = new Command("list", "List a principal's access keys (never their secrets).") { principal };
        app.Handle(command, async inv =>
        {
            var keys = await inv.Client().AccessKeys.ListAsync(await PrincipalIdAsync(inv, principal), inv.Ct);
            return inv.ShowList(keys, "No access keys.",
                new Column<AccessKeyView>("Id", k => k.Id),
                new Column<AccessKeyView>("Name", k => k.Name),
                new Column<AccessKeyView>("Created", k => Fmt.Time(k.Created)),
                new Column<AccessKeyView>("Revoked", k => Fmt.Time(k.Revoked)));
        });
        return command;
    }

    private static Command Revoke(CliApp app)
    {
        var id = Opt.Id("access key");
        var command = new Command("revoke", "Revoke an access key; requests signed with it are refused at once.") { id };
        app.Handle(command, async inv =>
        {
            var key = await inv.Client().AccessKeys.RevokeAsync(inv.Value(id), inv.Ct);
            return inv.Show(key, (o, k) => o.Fields(("Id", k.Id), ("Principal", k.PrincipalId), ("Name", k.Name), ("Revoked", Fmt.Time(k.Revoked))));
        });
        return command;
    }
}
