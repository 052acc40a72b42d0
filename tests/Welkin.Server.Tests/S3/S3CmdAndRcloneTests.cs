using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// Two more real clients whose signing code is their own, against the S3 face's door: s3cmd (Python,
/// its own Signature Version 4) and rclone (Go, the AWS SDK for Go). Debian packages that
/// scripts/install-deps.sh installs. Object round trips run against the cloud's own vaults.
/// </summary>
public sealed class S3CmdAndRcloneTests(S3App app, S3VaultApp vaults) : IClassFixture<S3App>, IClassFixture<S3VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<(int Exit, string Out, string Err)> S3CmdAsync(string keyId, string secret, params string[] args) => S3CmdAsync(app, keyId, secret, args);

    private static Task<(int Exit, string Out, string Err)> S3CmdAsync(S3App app, string keyId, string secret, params string[] args)
    {
        var config = $"""
            [default]
            access_key = {keyId}
            secret_key = {secret}
            host_base = 127.0.0.1:{app.S3Port.ToString(CultureInfo.InvariantCulture)}
            host_bucket = 127.0.0.1:{app.S3Port.ToString(CultureInfo.InvariantCulture)}
            bucket_location = us-east-1
            use_https = False
            signature_v2 = False
            check_ssl_certificate = False
            """;
        return ClientProcess.RunAsync("/bin/sh", ["-c", "printf '%s\\n' \"$S3CFG_TEXT\" > {home}/s3cfg && exec /usr/bin/s3cmd -c {home}/s3cfg \"$@\"", "s3cmd", .. args],
            _ => new Dictionary<string, string> { ["S3CFG_TEXT"] = config }, Ct);
    }

    private Task<(int Exit, string Out, string Err)> RcloneAsync(string keyId, string secret, params string[] args) => RcloneAsync(app, keyId, secret, args);

    private static Task<(int Exit, string Out, string Err)> RcloneAsync(S3App app, string keyId, string secret, params string[] args) =>
        ClientProcess.RunAsync("/usr/bin/rclone", [.. args, "--retries", "1", "--low-level-retries", "1"], home => new Dictionary<string, string>
        {
            ["RCLONE_CONFIG"] = Path.Combine(home, "rclone.conf"),
            ["RCLONE_CONFIG_WELKIN_TYPE"] = "s3",
            ["RCLONE_CONFIG_WELKIN_PROVIDER"] = "Other",
            ["RCLONE_CONFIG_WELKIN_ACCESS_KEY_ID"] = keyId,
            ["RCLONE_CONFIG_WELKIN_SECRET_ACCESS_KEY"] = secret,
            ["RCLONE_CONFIG_WELKIN_ENDPOINT"] = app.S3Endpoint.AbsoluteUri.TrimEnd('/'),
            ["RCLONE_CONFIG_WELKIN_REGION"] = "us-east-1",
            ["RCLONE_CONFIG_WELKIN_FORCE_PATH_STYLE"] = "true",
        }, Ct);

    [Fact]
    public async Task S3cmdLs_ListsTheAccountsBuckets_AndAWrongSecretIsSignatureDoesNotMatch()
    {
        var (account, _, key) = await app.AccountWithKeyAsync();
        app.Buckets.Add(account.Account.Id, "archive-2026", new DateTimeOffset(2026, 2, 1, 8, 0, 0, TimeSpan.Zero));

        var listed = await S3CmdAsync(key.Id, key.Secret, "ls");
        var refused = await S3CmdAsync(key.Id, "wrong-" + key.Secret[6..], "ls");

        listed.Exit.ShouldBe(0, listed.Err);
        listed.Out.ShouldContain("s3://archive-2026");
        refused.Exit.ShouldNotBe(0);
        refused.Err.ShouldContain("SignatureDoesNotMatch");
    }

    [Fact]
    public async Task RcloneLsd_ListsTheAccountsBuckets_AndARevokedKeyIsRefused()
    {
        var (account, admin, key) = await app.AccountWithKeyAsync();
        app.Buckets.Add(account.Account.Id, "photos-2026", new DateTimeOffset(2026, 4, 1, 9, 30, 0, TimeSpan.Zero));

        var listed = await RcloneAsync(key.Id, key.Secret, "lsd", "welkin:");
        await (await admin.DeleteAsync($"/api/v1/access-keys/{key.Id}", Ct)).ReadAsync<AccessKeyView>(HttpStatusCode.OK);
        var refused = await RcloneAsync(key.Id, key.Secret, "lsd", "welkin:");

        listed.Exit.ShouldBe(0, listed.Err);
        listed.Out.ShouldContain("photos-2026");
        refused.Exit.ShouldNotBe(0);
        refused.Err.ShouldContain("InvalidAccessKeyId");
    }

    [Fact]
    public async Task S3cmd_PutsGetsListsAndRemovesAnObject_TheRemovalADeleteMarker()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(vaults);
        var key = await vaults.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        var dir = Welkin.Testing.TempDirectories.NewPath("welkin-s3cmd-");
        Directory.CreateDirectory(dir);
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(150_000);
        await File.WriteAllBytesAsync(Path.Combine(dir, "up.bin"), bytes, Ct);
        try
        {
            var put = await S3CmdAsync(vaults, key.Id, key.Secret, "put", Path.Combine(dir, "up.bin"), $"s3://{vault.Name}/s3cmd/up.bin");
            var get = await S3CmdAsync(vaults, key.Id, key.Secret, "get", $"s3://{vault.Name}/s3cmd/up.bin", Path.Combine(dir, "down.bin"));
            var listed = await S3CmdAsync(vaults, key.Id, key.Secret, "ls", $"s3://{vault.Name}/s3cmd/");
            var removed = await S3CmdAsync(vaults, key.Id, key.Secret, "del", $"s3://{vault.Name}/s3cmd/up.bin");
            var after = await S3CmdAsync(vaults, key.Id, key.Secret, "ls", $"s3://{vault.Name}/s3cmd/");
            var records = await tenant.Client.GetFromJsonAsync<Page<VaultRecordView>>($"/api/v1/vaults/{vault.Id}/records", WelkinJson.Client, Ct);

            put.Exit.ShouldBe(0, put.Err);
            get.Exit.ShouldBe(0, get.Err);
            (await File.ReadAllBytesAsync(Path.Combine(dir, "down.bin"), Ct)).ShouldBe(bytes);
            listed.Out.ShouldContain("s3cmd/up.bin");
            removed.Exit.ShouldBe(0, removed.Err);
            after.Exit.ShouldBe(0, after.Err);
            after.Out.ShouldNotContain("up.bin");
            records!.Items.Select(r => r.Key).ShouldBe(["s3cmd/up.bin"]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Rclone_CopiesUpAndDown_ListsAndDeletes_TheDeleteADeleteMarker()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(vaults);
        var key = await vaults.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        var dir = Welkin.Testing.TempDirectories.NewPath("welkin-rclone-");
        Directory.CreateDirectory(dir);
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(150_000);
        await File.WriteAllBytesAsync(Path.Combine(dir, "up.bin"), bytes, Ct);
        try
        {
            // Buckets are vaults made through the API: rclone must not try to create one.
            var put = await RcloneAsync(vaults, key.Id, key.Secret, "copyto", "--s3-no-check-bucket", Path.Combine(dir, "up.bin"), $"welkin:{vault.Name}/rclone/up.bin");
            var get = await RcloneAsync(vaults, key.Id, key.Secret, "copyto", $"welkin:{vault.Name}/rclone/up.bin", Path.Combine(dir, "down.bin"));
            var listed = await RcloneAsync(vaults, key.Id, key.Secret, "ls", $"welkin:{vault.Name}");
            var removed = await RcloneAsync(vaults, key.Id, key.Secret, "deletefile", $"welkin:{vault.Name}/rclone/up.bin");
            var after = await RcloneAsync(vaults, key.Id, key.Secret, "ls", $"welkin:{vault.Name}");
            var records = await tenant.Client.GetFromJsonAsync<Page<VaultRecordView>>($"/api/v1/vaults/{vault.Id}/records", WelkinJson.Client, Ct);

            put.Exit.ShouldBe(0, put.Err);
            get.Exit.ShouldBe(0, get.Err);
            (await File.ReadAllBytesAsync(Path.Combine(dir, "down.bin"), Ct)).ShouldBe(bytes);
            listed.Out.ShouldContain("150000 rclone/up.bin");
            removed.Exit.ShouldBe(0, removed.Err);
            after.Exit.ShouldBe(0, after.Err);
            after.Out.ShouldNotContain("up.bin");
            records!.Items.Select(r => r.Key).ShouldBe(["rclone/up.bin"]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
