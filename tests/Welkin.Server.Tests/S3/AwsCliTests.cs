using System.Net;
using Welkin.Contracts;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// The AWS command line (Debian's awscli, /usr/bin/aws; scripts/install-deps.sh installs it) against the
/// S3 face: `aws s3 ls --endpoint-url` succeeds with a good key and fails with S3's error text otherwise.
/// </summary>
public sealed class AwsCliTests(S3App app) : IClassFixture<S3App>
{
    private const string Aws = "/usr/bin/aws";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<(int Exit, string Out, string Err)> AwsAsync(string keyId, string secret, params string[] args) =>
        ClientProcess.RunAsync(Aws, args.Concat(["--endpoint-url", app.S3Endpoint.AbsoluteUri.TrimEnd('/')]), home => new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = keyId,
            ["AWS_SECRET_ACCESS_KEY"] = secret,
            ["AWS_DEFAULT_REGION"] = "us-east-1",
            ["AWS_CONFIG_FILE"] = Path.Combine(home, "config"),
            ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(home, "credentials"),
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["AWS_MAX_ATTEMPTS"] = "1",
            ["AWS_PAGER"] = "",
        }, Ct);

    [Fact]
    public async Task S3Ls_WithAGoodKey_ListsTheAccountsBuckets()
    {
        var (account, _, key) = await app.AccountWithKeyAsync();

        var empty = await AwsAsync(key.Id, key.Secret, "s3", "ls");
        app.Buckets.Add(account.Account.Id, "ledgers-2026", new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var one = await AwsAsync(key.Id, key.Secret, "s3", "ls");

        empty.Exit.ShouldBe(0, empty.Err);
        empty.Out.Trim().ShouldBeEmpty();
        one.Exit.ShouldBe(0, one.Err);
        one.Out.ShouldContain("ledgers-2026");
    }

    [Fact]
    public async Task S3Ls_WithAWrongSecret_FailsWithSignatureDoesNotMatch()
    {
        var (_, _, key) = await app.AccountWithKeyAsync();

        var answer = await AwsAsync(key.Id, "not-the-secret-" + key.Secret[15..], "s3", "ls");

        answer.Exit.ShouldNotBe(0);
        answer.Err.ShouldContain("SignatureDoesNotMatch");
    }

    [Fact]
    public async Task S3Ls_WithARevokedKey_FailsWithInvalidAccessKeyId()
    {
        var (_, admin, key) = await app.AccountWithKeyAsync();
        await (await admin.DeleteAsync($"/api/v1/access-keys/{key.Id}", Ct)).ReadAsync<AccessKeyView>(HttpStatusCode.OK);

        var answer = await AwsAsync(key.Id, key.Secret, "s3", "ls");

        answer.Exit.ShouldNotBe(0);
        answer.Err.ShouldContain("InvalidAccessKeyId");
    }

    [Fact]
    public async Task S3Ls_OfAnotherAccountsBucket_FailsWithNoSuchBucket()
    {
        var (victim, _, _) = await app.AccountWithKeyAsync();
        var (_, _, key) = await app.AccountWithKeyAsync();
        app.Buckets.Add(victim.Account.Id, "victim-vault", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

        var answer = await AwsAsync(key.Id, key.Secret, "s3", "ls", "s3://victim-vault/");

        answer.Exit.ShouldNotBe(0);
        answer.Err.ShouldContain("NoSuchBucket");
    }
}
