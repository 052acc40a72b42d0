using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

[Collection(CloudsCollection.Name)]
public sealed class AccessKeyCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task AccessKeyCreateListRevoke_PrintsTheSecretOnce_ListsWithoutIt()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("keys"), "--display-name", "Keys", "--output", "json")).Json<SignUpResponse>();

        var created = await _cli.OkAsync("access-key", "create", "--principal", account.Admin.Id, "--name", "backup");
        var key = (await _cli.OkAsync("access-key", "create", "--principal", account.Admin.Id, "--output", "json")).Json<IssuedAccessKey>();
        var third = await _cli.RunAsync("access-key", "create", "--principal", account.Admin.Id);
        var listed = await _cli.OkAsync("access-key", "list", "--principal", account.Admin.Id);
        var revoked = await _cli.OkAsync("access-key", "revoke", key.Id);

        created.Out.ShouldMatch(@"Access key id:\s+WK[A-Z2-7]{18}");
        created.Out.ShouldMatch(@"Secret access key:\s+[A-Za-z0-9]{40}");
        created.Err.ShouldContain("only time the secret access key is shown");
        third.ExitCode.ShouldBe(1, third.ToString());
        third.Err.ShouldContain("already has 2 live access keys");
        listed.Out.ShouldContain(key.Id);
        listed.Out.ShouldContain("backup");
        listed.Out.ShouldNotContain(key.Secret);
        revoked.Out.ShouldMatch(@"Revoked:\s+\d{4}-");
    }
}
