using System.Globalization;
using System.Net;
using Welkin.Contracts;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// Two more real clients whose signing code is their own, against the S3 face's door: s3cmd (Python,
/// its own Signature Version 4) and rclone (Go, the AWS SDK for Go). Debian packages that
/// scripts/install-deps.sh installs.
/// </summary>
public sealed class S3CmdAndRcloneTests(S3App app) : IClassFixture<S3App>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<(int Exit, string Out, string Err)> S3CmdAsync(string keyId, string secret, params string[] args)
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

    private Task<(int Exit, string Out, string Err)> RcloneAsync(string keyId, string secret, params string[] args) =>
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
}
