using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Welkin.Cli.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Commands;

/// <summary><c>welkin vault</c>: retention vaults, their classes and records, holds, destruction certificates.</summary>
internal static class VaultCommands
{
    public static Command Create(CliApp app) => new("vault", "Retention vaults: write-once encrypted records under retention, legal holds, certified destruction.")
    {
        CreateVault(app), List(app), Show(app), Delete(app), ObjectLock(app), Classes(app), Put(app), Records(app), Record(app), Get(app),
        DeleteRecord(app), Retention(app), Hold(app), ReleaseHold(app), Certificates(app), Certificate(app), CertificateKey(app), RotateKey(app), VerifyCertificate(app),
        VaultSoxCommands.SoxReport(app), VaultRetentionCommands.DefaultRetention(app),
        VaultGrantCommands.Create(app),
    };

    private static readonly Column<VaultView>[] ListColumns =
    [
        new("Id", v => v.Id),
        new("Name", v => v.Name),
        new("Capacity GiB", v => Fmt.Number(v.CapacityGiB)),
        new("Stored", v => Fmt.Bytes(v.StoredBytes)),
        new("Records", v => Fmt.Number(v.Records)),
        new("Object Lock", v => v.ObjectLock ? "on" : "off"),
        new("State", v => Fmt.Name(v.State)),
    ];

    private static readonly Column<VaultRecordView>[] RecordColumns =
    [
        new("Id", r => r.Id),
        new("Key", r => r.Key),
        new("Size", r => Fmt.Number(r.SizeBytes)),
        new("Class", r => r.ClassName),
        new("Mode", r => Fmt.Name(r.Mode)),
        new("Retain until", r => Fmt.Time(r.RetainUntil)),
        new("Holds", r => Fmt.List(r.HoldIds)),
        new("State", r => Fmt.Name(r.State)),
    ];

    private static void Fields(Output o, VaultView v) =>
        o.Fields(("Id", v.Id), ("Account", v.AccountId), ("Name", v.Name), ("Contract", $"{v.ContractId} item {v.Item}"), ("Capacity GiB", Fmt.Number(v.CapacityGiB)),
            ("Stored", $"{Fmt.Bytes(v.StoredBytes)} ({Fmt.Number(v.StoredBytes)} bytes)"), ("Records", Fmt.Number(v.Records)), ("Object Lock", v.ObjectLock ? "on" : "off"),
            ("State", Fmt.Name(v.State)), ("Version", Fmt.Number(v.Version)), ("Created", Fmt.Time(v.Created)));

    private static void RecordFields(Output o, VaultRecordView r) =>
        o.Fields(("Id", r.Id), ("Vault", r.VaultId), ("Key", r.Key), ("SHA-256", r.Sha256), ("Size", Fmt.Number(r.SizeBytes)), ("Class", r.ClassName),
            ("Mode", Fmt.Name(r.Mode)), ("Retain until", Fmt.Time(r.RetainUntil)), ("Legal holds", Fmt.List(r.HoldIds)), ("State", Fmt.Name(r.State)),
            ("Version", Fmt.Number(r.Version)), ("Created", Fmt.Time(r.Created)), ("Destroyed", Fmt.Time(r.Shredded)));

    private static void CertificateFields(Output o, DestructionCertificateView c) =>
        o.Fields(("Record", c.RecordId), ("Vault", c.VaultId), ("Issued", Fmt.Time(c.Issued)), ("Key id", c.KeyId), ("Statement", c.Certificate), ("Signature", c.Signature));

    private static Command CreateVault(CliApp app)
    {
        var contract = Opt.Required("--contract", "The active contract with a storage line.", "id");
        var capacity = new Option<long>("--capacity") { Description = "Capacity in GiB: a multiple of the line's increment.", Required = true, HelpName = "GiB", CustomParser = Opt.LongWholeNumber };
        var name = Opt.Text("--name", "A name for the vault.", "name");
        var item = Opt.Number("--item", "The contract line (default: the first storage line).");
        var noLock = Opt.Flag("--no-object-lock", "Create the vault without Object Lock (it can be turned on later, never off).");
        var command = new Command("create", "Create a vault from a storage line of an active contract.") { contract, capacity, name, item, noLock };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.CreateAsync(
            new CreateVaultRequest(inv.Value(contract)!, inv.Value(capacity), inv.Value(name), inv.Value(item), inv.Value(noLock) ? false : null), inv.Ct), Fields));
        return command;
    }

    private static Command List(CliApp app)
    {
        var contract = Opt.Text("--contract", "Only vaults of this contract.", "id");
        var deleted = Opt.Flag("--deleted", "Include deleted vaults.");
        var account = Opt.Text("--account", "Only this account's vaults (provider roles).", "id");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("list", "List vaults.") { contract, deleted, account, after, limit };
        app.Handle(command, async inv => inv.ShowPage(await inv.Client().Vaults.ListAsync(inv.Value(contract), inv.Value(deleted) ? true : null, inv.Value(account),
            inv.Value(after), inv.Value(limit), inv.Ct), "No vaults.", ListColumns));
        return command;
    }

    private static Command Show(CliApp app)
    {
        var id = Opt.Id("vault");
        var command = new Command("show", "Show a vault.") { id };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.GetAsync(inv.Value(id), inv.Ct), Fields));
        return command;
    }

    private static Command Delete(CliApp app)
    {
        var id = Opt.Id("vault");
        var version = Opt.RowVersion();
        var command = new Command("delete", "Delete a vault that holds no stored record; its increments go back to the contract line.") { id, version };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.DeleteAsync(inv.Value(id), inv.Value(version), inv.Ct), Fields));
        return command;
    }

    private static Command ObjectLock(CliApp app)
    {
        var id = Opt.Id("vault");
        var version = Opt.RowVersion();
        var command = new Command("object-lock", "Turn Object Lock on for a vault (it cannot be turned off).") { id, version };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.EnableObjectLockAsync(inv.Value(id), inv.Value(version), inv.Ct), Fields));
        return command;
    }

    private static Command Classes(CliApp app)
    {
        var vault = Opt.Id("vault");
        var name = Opt.Required("--name", "The class's name.", "name");
        var period = Opt.Required("--period", "The retention period, ISO 8601 (P7Y, P1Y6M, P90D).", "period");
        var mode = Opt.Enum<RetentionMode>("--mode", "How the retention binds (required)");
        var autoDelete = Opt.Flag("--auto-delete", "Destroy records as soon as their retention expires (and no hold remains).");
        var create = new Command("create", "Create a retention class (classes do not change once made).") { vault, name, period, mode, autoDelete };
        app.Handle(create, async inv => inv.Show(await inv.Client().Vaults.CreateClassAsync(inv.Value(vault),
            new CreateRetentionClassRequest(inv.Value(name)!, inv.Value(period)!, inv.Value(mode) ?? throw new CliException("--mode is required: governance or compliance."),
                inv.Value(autoDelete)), inv.Ct), ClassFields));
        var listVault = Opt.Id("vault");
        var list = new Command("list", "List a vault's retention classes.") { listVault };
        app.Handle(list, async inv => inv.ShowList(await inv.Client().Vaults.ClassesAsync(inv.Value(listVault), inv.Ct), "No retention classes.",
            new Column<RetentionClassView>("Name", c => c.Name), new Column<RetentionClassView>("Period", c => c.RetentionPeriod),
            new Column<RetentionClassView>("Mode", c => Fmt.Name(c.Mode)), new Column<RetentionClassView>("Auto-delete", c => c.AutoDelete ? "yes" : "no"),
            new Column<RetentionClassView>("Sanitization", c => c.SanitizationMethod)));
        return new Command("class", "Retention classes of a vault.") { create, list };
    }

    private static void ClassFields(Output o, RetentionClassView c) =>
        o.Fields(("Vault", c.VaultId), ("Name", c.Name), ("Period", c.RetentionPeriod), ("Mode", Fmt.Name(c.Mode)), ("Auto-delete", c.AutoDelete ? "yes" : "no"),
            ("Sanitization", c.SanitizationMethod), ("Created", Fmt.Time(c.Created)));

    private static Command Put(CliApp app)
    {
        var vault = Opt.Id("vault");
        var file = new Argument<FileInfo>("FILE") { Description = "The file to store." };
        var key = Opt.Text("--key", "The record's key (default: the file name).", "key");
        var @class = Opt.Text("--class", "The retention class.", "name");
        var sha256 = Opt.Text("--sha256", "The file's SHA-256 (hex): the server keeps nothing unless the bytes match.", "hex");
        var command = new Command("put", "Store a file as a new version of a key; it is streamed and encrypted on the way in.") { vault, file, key, @class, sha256 };
        app.Handle(command, async inv =>
        {
            var path = inv.Value(file);
            FileStream stream;
            try
            {
                stream = new FileStream(path.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"Cannot read {path.FullName}: {e.Message}");
            }
            await using (stream)
            {
                return inv.Show(await inv.Client().Vaults.PutAsync(inv.Value(vault), inv.Value(key) ?? path.Name, stream, inv.Value(@class), inv.Value(sha256), inv.Ct),
                    RecordFields);
            }
        });
        return command;
    }

    private static Command Records(CliApp app)
    {
        var vault = Opt.Id("vault");
        var key = Opt.Text("--key", "Only this key's versions.", "key");
        var shredded = Opt.Flag("--shredded", "Include destroyed records.");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("records", "List a vault's records, oldest first.") { vault, key, shredded, after, limit };
        app.Handle(command, async inv => inv.ShowPage(await inv.Client().Vaults.RecordsAsync(inv.Value(vault), inv.Value(key), inv.Value(shredded) ? true : null,
            inv.Value(after), inv.Value(limit), inv.Ct), "No records.", RecordColumns));
        return command;
    }

    private static Command Record(CliApp app)
    {
        var (vault, record) = RecordIds();
        var command = new Command("record", "Show a record: digest, size, retention, legal holds.") { vault, record };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.RecordAsync(inv.Value(vault), inv.Value(record), inv.Ct), RecordFields));
        return command;
    }

    private static Command Get(CliApp app)
    {
        var (vault, record) = RecordIds();
        var to = new Option<FileInfo>("--to") { Description = "The file to write (replaced only once the whole record has arrived).", HelpName = "file", Required = true };
        var command = new Command("get", "Read a record's bytes into a file.") { vault, record, to };
        app.Handle(command, async inv =>
        {
            var target = inv.Value(to)!;
            var partial = target.FullName + ".partial";
            try
            {
                long written;
                await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
                {
                    written = await inv.Client().Vaults.ReadAsync(inv.Value(vault), inv.Value(record), file, inv.Ct);
                }
                File.Move(partial, target.FullName, overwrite: true);
                inv.Out.Line($"Wrote {Fmt.Number(written)} bytes to {target.FullName}.");
                return ExitCodes.Ok;
            }
            finally
            {
                File.Delete(partial);
            }
        });
        return command;
    }

    private static Command DeleteRecord(CliApp app)
    {
        var (vault, record) = RecordIds();
        var bypass = Opt.Flag("--bypass-governance", "Delete under governance retention (needs vault-retention-bypass; audited).");
        var version = Opt.RowVersion();
        var command = new Command("delete-record", "Destroy a record its retention and holds let go; prints its destruction certificate.") { vault, record, bypass, version };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.DeleteRecordAsync(inv.Value(vault), inv.Value(record), inv.Value(bypass), inv.Value(version), inv.Ct),
            CertificateFields));
        return command;
    }

    private static Command Retention(CliApp app)
    {
        var (vault, record) = RecordIds();
        var mode = Opt.Enum<RetentionMode>("--mode", "The new mode");
        var until = Opt.Time("--until", "The new retain-until time.");
        var remove = Opt.Flag("--remove", "Remove the retention (governance only, with --bypass-governance).");
        var bypass = Opt.Flag("--bypass-governance", "Shorten or remove governance retention (needs vault-retention-bypass; audited).");
        var version = Opt.RowVersion();
        var command = new Command("retention", "Change a record's retention: lengthen it, or shorten governance retention with a bypass.") { vault, record, mode, until, remove, bypass, version };
        app.Handle(command, async inv =>
        {
            if (inv.Value(remove) == (inv.Value(until) is not null))
            {
                throw new CliException("Give --until (with --mode) to set the retention, or --remove to remove it.");
            }
            var request = inv.Value(remove)
                ? new RecordRetentionRequest(null, null, inv.Value(bypass), inv.Value(version))
                : new RecordRetentionRequest(inv.Value(mode) ?? throw new CliException("--until needs --mode."), inv.Value(until), inv.Value(bypass), inv.Value(version));
            return inv.Show(await inv.Client().Vaults.SetRetentionAsync(inv.Value(vault), inv.Value(record), request, inv.Ct), RecordFields);
        });
        return command;
    }

    private static Command Hold(CliApp app)
    {
        var (vault, record) = RecordIds();
        var hold = new Argument<string>("HOLD") { Description = "The legal hold's id." };
        var command = new Command("hold", "Place a legal hold on a record.") { vault, record, hold };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.PlaceHoldAsync(inv.Value(vault), inv.Value(record), inv.Value(hold), inv.Ct), RecordFields));
        return command;
    }

    private static Command ReleaseHold(CliApp app)
    {
        var (vault, record) = RecordIds();
        var hold = new Argument<string>("HOLD") { Description = "The legal hold's id." };
        var command = new Command("release-hold", "Remove a legal hold from a record.") { vault, record, hold };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.RemoveHoldAsync(inv.Value(vault), inv.Value(record), inv.Value(hold), inv.Ct), RecordFields));
        return command;
    }

    private static Command Certificates(CliApp app)
    {
        var vault = Opt.Id("vault");
        var after = Opt.After();
        var limit = Opt.Limit();
        var command = new Command("certificates", "List a vault's destruction certificates.") { vault, after, limit };
        app.Handle(command, async inv => inv.ShowPage(await inv.Client().Vaults.CertificatesAsync(inv.Value(vault), inv.Value(after), inv.Value(limit), inv.Ct),
            "No destruction certificates.", new Column<DestructionCertificateView>("Record", c => c.RecordId),
            new Column<DestructionCertificateView>("Issued", c => Fmt.Time(c.Issued)), new Column<DestructionCertificateView>("Key id", c => c.KeyId)));
        return command;
    }

    private static Command Certificate(CliApp app)
    {
        var (vault, record) = RecordIds();
        var command = new Command("certificate", "Show a record's destruction certificate (-o json writes it for verify-certificate).") { vault, record };
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.CertificateAsync(inv.Value(vault), inv.Value(record), inv.Ct), CertificateFields));
        return command;
    }

    private static Command CertificateKey(CliApp app)
    {
        var command = new Command("certificate-key", "Print the cloud's public key that signs destruction certificates (PEM, for verify-certificate).");
        app.Handle(command, async inv =>
        {
            var key = await inv.Client().Vaults.CertificateKeyAsync(inv.Ct);
            if (inv.Format == OutputFormat.Table)
            {
                inv.Out.Writer.Write(key.PublicKeyPem);
                return ExitCodes.Ok;
            }
            return inv.Show(key, (o, k) => o.Fields(("Key id", k.KeyId), ("Algorithm", k.Algorithm), ("Public key", k.PublicKeyPem)));
        });
        return command;
    }

    private static Command RotateKey(CliApp app)
    {
        var command = new Command("rotate-key", "Rotate your account's tenant key: every data key is rewrapped, no record rewritten.");
        app.Handle(command, async inv => inv.Show(await inv.Client().Vaults.RotateKeyAsync(inv.Ct),
            (o, r) => o.Fields(("Account", r.AccountId), ("Key version", Fmt.Number(r.KeyVersion)), ("Rewrapped", Fmt.Number(r.Rewrapped)))));
        return command;
    }

    /// <summary>Offline: no server is asked; the certificate and the cloud's public signing key are all it needs.</summary>
    private static Command VerifyCertificate(CliApp app)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The certificate as JSON (welkin vault certificate VAULT RECORD -o json)." };
        var key = new Option<FileInfo>("--public-key") { Description = "The cloud's public signing key, PEM (welkin vault certificate-key).", HelpName = "file", Required = true };
        var command = new Command("verify-certificate", "Verify a destruction certificate offline with the cloud's public key (exit 1 when it does not hold).") { file, key };
        app.Handle(command, inv =>
        {
            string text, pem;
            try
            {
                text = File.ReadAllText(inv.Value(file)!.FullName);
                pem = File.ReadAllText(inv.Value(key)!.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"Cannot read the certificate or the key: {e.Message}");
            }
            var problem = Verify(text, pem, out var statement);
            if (problem is not null)
            {
                inv.Err.WriteLine($"Error: the certificate does not hold: {problem}.");
                return Task.FromResult(ExitCodes.ApiProblem);
            }
            inv.Out.Line($"Valid: record {statement!.RecordId} ({statement.Key}, SHA-256 {statement.Sha256}) destroyed {Fmt.Time(statement.DestroyedAt)} by {statement.Method} ({statement.Reason}).");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    /// <summary>Null when the certificate's signature holds over its statement under <paramref name="pem"/>; else why not.</summary>
    internal static string? Verify(string certificateJson, string pem, out DestructionStatement? statement)
    {
        statement = null;
        DestructionCertificateView? certificate;
        try
        {
            certificate = JsonSerializer.Deserialize<DestructionCertificateView>(certificateJson, WelkinJson.Client);
        }
        catch (JsonException)
        {
            return "the file is not a destruction certificate (JSON)";
        }
        if (certificate?.Certificate is null || certificate.Signature is null)
        {
            return "the file is not a destruction certificate (JSON)";
        }
        using var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return "the public key is not a PEM EC public key";
        }
        var keyId = Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo())[..8]);
        if (keyId != certificate.KeyId)
        {
            return $"it is signed by key {certificate.KeyId}, this public key is {keyId}";
        }
        var signature = new byte[certificate.Signature.Length];
        if (!Convert.TryFromBase64String(certificate.Signature, signature, out var length)
            || !key.VerifyData(Encoding.UTF8.GetBytes(certificate.Certificate), signature.AsSpan(0, length), HashAlgorithmName.SHA256))
        {
            return "the signature does not match the statement";
        }
        try
        {
            statement = JsonSerializer.Deserialize<DestructionStatement>(certificate.Certificate, WelkinJson.Client);
        }
        catch (JsonException)
        {
            return "the signed statement is not a destruction statement";
        }
        return statement is null || statement.RecordId != certificate.RecordId || statement.VaultId != certificate.VaultId
            ? "the signed statement names another record"
            : null;
    }

    private static (Argument<string> Vault, Argument<string> Record) RecordIds() =>
        (new Argument<string>("VAULT") { Description = "The vault's id." }, new Argument<string>("RECORD") { Description = "The record's id." });
}
