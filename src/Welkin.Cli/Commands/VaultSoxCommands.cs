using System.CommandLine;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin vault sox-report</c>: the auditor's report of a vault, or of every vault of an account, for a period.</summary>
internal static class VaultSoxCommands
{
    public static Command SoxReport(CliApp app)
    {
        var id = new Argument<string?>("ID") { Description = "The vault's id (or --account for every vault of an account).", Arity = ArgumentArity.ZeroOrOne };
        var account = Opt.Text("--account", "Report on every vault the account had in the period instead of one vault.", "id");
        var from = Opt.Time("--from", "Start of the period, included (default: the vault's creation; with --account, its first vault's).");
        var to = Opt.Time("--to", "End of the period, included (default: now).");
        var html = Opt.Text("--html", "Also write the printable HTML report to this file.", "file");
        var command = new Command("sox-report", "The auditor's report of a vault (or of every vault of an account) for a period: retention history, holds, bypasses, destructions, the audit chain and a verdict.")
        {
            id, account, from, to, html,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetValue(id) is null) == (result.GetValue(account) is null))
            {
                result.AddError("Give either a vault id or --account.");
            }
        });
        app.Handle(command, async inv =>
        {
            var vaults = inv.Client().Vaults;
            if (inv.Value(account) is { } accountId)
            {
                var all = await vaults.AccountSoxReportAsync(accountId, inv.Value(from), inv.Value(to), inv.Ct);
                if (inv.Value(html) is { } page)
                {
                    await File.WriteAllTextAsync(page, await vaults.AccountSoxReportHtmlAsync(accountId, all.From, all.To, inv.Ct), inv.Ct);
                    inv.Err.WriteLine($"Wrote {page}");
                }
                return inv.Show(all, AccountFields);
            }
            var report = await vaults.SoxReportAsync(inv.Value(id)!, inv.Value(from), inv.Value(to), inv.Ct);
            if (inv.Value(html) is { } file)
            {
                await File.WriteAllTextAsync(file, await vaults.SoxReportHtmlAsync(inv.Value(id)!, report.From, report.To, inv.Ct), inv.Ct);
                inv.Err.WriteLine($"Wrote {file}");
            }
            return inv.Show(report, Fields);
        });
        return command;
    }

    private static void AccountFields(Output o, AccountSoxReportView r)
    {
        o.Fields(("Account", r.AccountId), ("Period", $"{Fmt.Time(r.From)} to {Fmt.Time(r.To)}"), ("Verdict", r.Verdict), ("Vaults", Fmt.Number(r.Vaults.Count)));
        foreach (var v in r.Vaults)
        {
            o.Line($"Vault {v.Vault.Name} ({v.Vault.Id}): {(v.Intact ? "intact" : "NOT intact")}, {Fmt.Number(v.Destructions.Count)} destruction(s), {Fmt.Number(v.Bypasses.Count)} bypass(es)");
        }
        foreach (var f in r.Findings)
        {
            o.Line($"Finding {f.Code} ({f.Subject}): {f.Detail}");
        }
    }

    private static void Fields(Output o, SoxReportView r)
    {
        var chain = r.AuditChain;
        o.Fields(("Vault", $"{r.Vault.Name} ({r.Vault.Id})"), ("Account", r.Vault.AccountId), ("Period", $"{Fmt.Time(r.From)} to {Fmt.Time(r.To)}"),
            ("Verdict", r.Verdict), ("Classes", Fmt.List(r.Classes.Select(c => $"{c.Name}: {c.RetentionPeriod} {Fmt.Name(c.Mode)}"))),
            ("Configuration changes", Fmt.Number(r.ConfigurationHistory.Count)), ("Holds placed/removed", Fmt.Number(r.Holds.Count)),
            ("Bypasses used", Fmt.Number(r.Bypasses.Count)), ("Records written", Fmt.Number(r.RecordsWritten.Count)),
            ("Destructions", Fmt.Number(r.Destructions.Count)),
            ("Audit chain", $"{(chain.Intact ? "intact" : "NOT intact")}, {Fmt.Number(chain.Entries)} entries, checkpoints {Fmt.List(chain.Checkpoints.Select(c => Fmt.Number(c)))}"));
        foreach (var f in r.Findings)
        {
            o.Line($"Finding {f.Code} ({f.Subject}): {f.Detail}");
        }
    }
}
