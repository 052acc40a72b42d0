using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin vault default-retention</c>: a vault's default retention (S3's Object Lock rule).</summary>
internal static class VaultRetentionCommands
{
    public static Command DefaultRetention(CliApp app)
    {
        var vault = Opt.Id("vault");
        var mode = Opt.Enum<RetentionMode>("--mode", "The default mode");
        var days = Opt.Number("--days", "The default period in days (1-36500).");
        var years = Opt.Number("--years", "The default period in calendar years (1-100).");
        var remove = Opt.Flag("--remove", "Remove the default retention (records already written keep theirs).");
        var version = Opt.RowVersion();
        var command = new Command("default-retention",
            "Show a vault's default retention, or set it (--mode with --days or --years) for records written without a class or an explicit retention.")
        {
            vault, mode, days, years, remove, version,
        };
        app.Handle(command, async inv =>
        {
            var (m, d, y) = (inv.Value(mode), inv.Value(days), inv.Value(years));
            if (!inv.Value(remove) && m is null && d is null && y is null)
            {
                return inv.Show(await inv.Client().Vaults.GetDefaultRetentionAsync(inv.Value(vault), inv.Ct), Fields);
            }
            if (inv.Value(remove) ? m is not null || d is not null || y is not null : m is null || (d is null) == (y is null))
            {
                throw new CliException("Give --mode with one of --days or --years to set the default retention, or --remove alone to remove it.");
            }
            return inv.Show(await inv.Client().Vaults.SetDefaultRetentionAsync(inv.Value(vault), new DefaultRetentionRequest(m, d, y, inv.Value(version)), inv.Ct), Fields);
        });
        return command;
    }

    private static void Fields(Output o, DefaultRetentionView v) =>
        o.Fields(("Vault", v.VaultId), ("Object Lock", v.ObjectLock ? "on" : "off"), ("Mode", v.Mode is null ? "none" : Fmt.Name(v.Mode)),
            ("Period", v.Days is { } d ? $"{Fmt.Number(d)} days" : v.Years is { } y ? $"{Fmt.Number(y)} years" : "none"), ("Version", Fmt.Number(v.Version)));
}
