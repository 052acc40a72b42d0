using System.Security.Cryptography;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>The vault commands against a real server: a record stored and read back, destroyed, and its certificate verified offline.</summary>
[Collection(CloudsCollection.Name)]
public sealed class VaultCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Grant_CreateListLinksAndRevoke_TheRegulatorFollowsItsLinkWithoutAToken_UntilTheRevocation()
    {
        var vault = await VaultAsync();
        var ledger = Path.Combine(_cli.WorkDir, "ledger.csv");
        await File.WriteAllTextAsync(ledger, "debit,credit\n", Ct);
        var granted = (await _cli.OkAsync("vault", "put", vault.Id, ledger, "--key", "case-17/ledger.csv", "--output", "json")).Json<VaultRecordView>();
        await _cli.OkAsync("vault", "put", vault.Id, ledger, "--key", "payroll/2026.csv");
        PrincipalView regulator;
        using (var admin = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken))
        {
            regulator = await admin.Principals.CreateAsync(new CreatePrincipalRequest(Names.Unique("reg"), [Role.Regulator], "Financial Conduct Office", PrincipalKind.Service), Ct);
            var token = Path.Combine(_cli.WorkDir, "regulator.token");
            await File.WriteAllTextAsync(token, (await admin.Tokens.CreateAsync(regulator.Id, new CreateTokenRequest("regulator"), Ct)).Secret, Ct);
            await _cli.OkAsync("profile", "add", "regulator", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", token);
        }
        var until = DateTimeOffset.UtcNow.AddDays(7).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

        var grant = (await _cli.OkAsync("vault", "grant", "create", vault.Id, "--regulator", regulator.Id, "--until", until, "--key-prefix", "case-17/", "--output", "json"))
            .Json<VaultGrantView>();
        var listed = await _cli.OkAsync("vault", "grant", "list");
        var received = (await _cli.OkAsync("--profile", "regulator", "vault", "grant", "list", "--output", "json")).Json<Page<VaultGrantView>>();
        var links = (await _cli.OkAsync("--profile", "regulator", "vault", "grant", "links", grant.Id, "--output", "json")).Json<List<VaultGrantLink>>();
        var table = await _cli.OkAsync("--profile", "regulator", "vault", "grant", "links", grant.Id);
        var link = links.ShouldHaveSingleItem();
        using var anonymous = new HttpClient();
        var url = new Uri(clouds.A.Endpoint, link.Url.TrimStart('/'));
        var fetched = await anonymous.GetByteArrayAsync(url, Ct);
        var tenantLinks = await _cli.RunAsync("vault", "grant", "links", grant.Id);
        var revoked = (await _cli.OkAsync("vault", "grant", "revoke", grant.Id, "--output", "json")).Json<VaultGrantView>();
        using var afterRevocation = await anonymous.GetAsync(url, Ct);
        var refused = await _cli.RunAsync("--profile", "regulator", "vault", "grant", "links", grant.Id);

        (grant.State, grant.RegulatorId, grant.KeyPrefix, grant.AccountId).ShouldBe((VaultGrantState.Active, regulator.Id, "case-17/", vault.AccountId));
        listed.Out.ShouldContain(grant.Id);
        received.Items.Select(g => g.Id).ShouldBe([grant.Id]);
        (link.RecordId, link.Key).ShouldBe((granted.Id, "case-17/ledger.csv"));
        table.Out.ShouldContain(url.AbsoluteUri);
        fetched.ShouldBe("debit,credit\n"u8.ToArray());
        tenantLinks.ExitCode.ShouldNotBe(0, "only the grant's regulator makes its links");
        revoked.State.ShouldBe(VaultGrantState.Revoked);
        afterRevocation.StatusCode.ShouldBe(System.Net.HttpStatusCode.Forbidden);
        refused.ExitCode.ShouldNotBe(0);
        refused.Err.ShouldContain("not found");
    }

    [Fact]
    public async Task PutGetDestroy_AndVerifyCertificate_Offline_RefusingATamperedOne()
    {
        var vault = await VaultAsync();
        await _cli.OkAsync("vault", "class", "create", vault.Id, "--name", "public", "--period", "P1Y", "--mode", "governance");
        var file = Path.Combine(_cli.WorkDir, "minutes.txt");
        var content = RandomNumberGenerator.GetBytes(70_000);
        await File.WriteAllBytesAsync(file, content, Ct);

        var record = (await _cli.OkAsync("vault", "put", vault.Id, file, "--key", "board/minutes.txt", "--class", "public", "--output", "json")).Json<VaultRecordView>();
        var back = Path.Combine(_cli.WorkDir, "back.txt");
        await _cli.OkAsync("vault", "get", vault.Id, record.Id, "--to", back);
        var refused = await _cli.RunAsync("vault", "delete-record", vault.Id, record.Id);
        await _cli.OkAsync("vault", "delete-record", vault.Id, record.Id, "--bypass-governance");
        var certificate = Path.Combine(_cli.WorkDir, "cert.json");
        await File.WriteAllTextAsync(certificate, (await _cli.OkAsync("vault", "certificate", vault.Id, record.Id, "--output", "json")).Out, Ct);
        var key = Path.Combine(_cli.WorkDir, "key.pem");
        await File.WriteAllTextAsync(key, (await _cli.OkAsync("vault", "certificate-key")).Out, Ct);
        var verified = await _cli.OkAsync("vault", "verify-certificate", certificate, "--public-key", key);
        var tampered = Path.Combine(_cli.WorkDir, "tampered.json");
        await File.WriteAllTextAsync(tampered, (await File.ReadAllTextAsync(certificate, Ct)).Replace("deleted", "retention-expired", StringComparison.Ordinal), Ct);
        var forged = await _cli.RunAsync("vault", "verify-certificate", tampered, "--public-key", key);

        (await File.ReadAllBytesAsync(back, Ct)).ShouldBe(content);
        refused.ExitCode.ShouldNotBe(0);
        refused.Err.ShouldContain("governance retention");
        verified.Out.ShouldContain($"Valid: record {record.Id}");
        forged.ExitCode.ShouldBe(1, forged.ToString());
        forged.Err.ShouldContain("the signature does not match the statement");

        var html = Path.Combine(_cli.WorkDir, "sox.html");
        var report = (await _cli.OkAsync("vault", "sox-report", vault.Id, "--html", html, "--output", "json")).Json<SoxReportView>();
        report.Intact.ShouldBeTrue(string.Join("; ", report.Findings.Select(f => f.Detail)));
        report.Bypasses.Select(e => e.Target).ShouldBe([record.Id]);
        report.Destructions.Single().RecordId.ShouldBe(record.Id);
        (await File.ReadAllTextAsync(html, Ct)).ShouldContain("No record was changed or destroyed before its time.");

        var accountHtml = Path.Combine(_cli.WorkDir, "sox-account.html");
        var all = (await _cli.OkAsync("vault", "sox-report", "--account", vault.AccountId, "--html", accountHtml, "--output", "json")).Json<AccountSoxReportView>();
        var neither = await _cli.RunAsync("vault", "sox-report");
        all.Vaults.Select(v => v.Vault.Id).ShouldBe([vault.Id]);
        all.Intact.ShouldBeTrue(string.Join("; ", all.Findings.Select(f => f.Detail)));
        all.Vaults.Single().Destructions.Single().RecordId.ShouldBe(record.Id);
        (await File.ReadAllTextAsync(accountHtml, Ct)).ShouldContain($"SOX report: account {vault.AccountId}");
        neither.ExitCode.ShouldNotBe(0);
        neither.Err.ShouldContain("Give either a vault id or --account.");
    }

    [Fact]
    public async Task DefaultRetention_IsSetShownAndRemoved_AndDaysWithYearsIsRefused()
    {
        var vault = await VaultAsync();

        var byDefault = (await _cli.OkAsync("vault", "default-retention", vault.Id, "--mode", "compliance", "--days", "30", "--output", "json")).Json<DefaultRetentionView>();
        var shownDefault = await _cli.OkAsync("vault", "default-retention", vault.Id);
        var daysAndYears = await _cli.RunAsync("vault", "default-retention", vault.Id, "--mode", "governance", "--days", "1", "--years", "1");
        var removed = (await _cli.OkAsync("vault", "default-retention", vault.Id, "--remove", "--output", "json")).Json<DefaultRetentionView>();

        byDefault.ShouldBe(new DefaultRetentionView(vault.Id, true, RetentionMode.Compliance, 30, null, byDefault.Version));
        shownDefault.Out.ShouldContain("30 days");
        daysAndYears.ExitCode.ShouldNotBe(0);
        daysAndYears.Err.ShouldContain("--days or --years");
        (removed.Mode, removed.Days, removed.Years).ShouldBe((null, null, null));
    }

    /// <summary>A fresh account (the profile "tenant", current) with a 10 GiB vault of an accepted storage contract; "admin" is the provider's profile.</summary>
    private async Task<VaultView> VaultAsync()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("vlt"), "--display-name", "Vault", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "storage-unit=2");
        using var admin = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);
        var storage = await admin.Offerings.CreateAsync(new OfferingSpec(Names.Unique("vault"), OfferingKind.Storage,
            new PricePlan("USD", "month", [new PriceRate("storage-gb-month", "gb-month", 0.02m)]), new SlaTerms(99.99m), new OfferingTerms(0, 0m),
            "storage-unit", Storage: new StorageSpec(10, 100)), Ct);
        await admin.Offerings.PublishAsync(storage.Id, new OfferingTransitionRequest(), Ct);
        var contract = (await _cli.OkAsync("contract", "request", "--offering", storage.Id, "--quantity", "1", "--output", "json")).Json<ContractView>();
        await _cli.OkAsync("contract", "accept", contract.Id);
        return (await _cli.OkAsync("vault", "create", "--contract", contract.Id, "--capacity", "10", "--output", "json")).Json<VaultView>();
    }
}
