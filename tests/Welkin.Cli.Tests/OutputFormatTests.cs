using System.Text.Json;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

[Collection(CloudsCollection.Name)]
public sealed class OutputFormatTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private async Task<SignUpResponse> SignUpAsAdminAsync()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        return (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("out"), "--display-name", "Out Ltd", "-o", "json")).Json<SignUpResponse>();
    }

    [Fact]
    public async Task Output_IsAcceptedBeforeBetweenAndAfterTheCommand()
    {
        var account = (await SignUpAsAdminAsync()).Account;

        var before = await _cli.OkAsync("-o", "json", "account", "show", account.Id);
        var between = await _cli.OkAsync("account", "--output", "json", "show", account.Id);
        var after = await _cli.OkAsync("account", "show", account.Id, "-o", "json");

        before.Json<AccountView>().Id.ShouldBe(account.Id);
        between.Out.ShouldBe(before.Out);
        after.Out.ShouldBe(before.Out);
    }

    [Fact]
    public async Task Yaml_IsTheJsonDocumentAsYaml()
    {
        var account = (await SignUpAsAdminAsync()).Account;

        var yaml = await _cli.OkAsync("account", "show", account.Id, "-o", "yaml");
        var json = await _cli.OkAsync("account", "show", account.Id, "-o", "json");

        var parsed = new YamlDotNet.Serialization.DeserializerBuilder().Build().Deserialize<Dictionary<string, object>>(yaml.Out);
        using var document = JsonDocument.Parse(json.Out);
        parsed.Keys.ShouldBe(document.RootElement.EnumerateObject().Select(p => p.Name), ignoreOrder: true);
        yaml.Out.ShouldContain($"id: {account.Id}\n");
        yaml.Out.ShouldContain($"name: {account.Name}\n");
        yaml.Out.ShouldContain("state: active\n");
    }

    [Fact]
    public async Task Value_PrintsTheIdOfACreatedThing()
    {
        var account = (await SignUpAsAdminAsync()).Account;

        var created = await _cli.OkAsync("principal", "create", "--name", "vera", "--role", "viewer", "--account", account.Id, "-o", "value");

        created.Out.ShouldMatch(@"^prn_\w{26}\n$");
        var shown = await _cli.OkAsync("principal", "show", created.Out.Trim(), "-o", "json");
        shown.Json<PrincipalView>().Name.ShouldBe("vera");
    }

    [Fact]
    public async Task Value_WithColumns_PrintsALinePerItem_AndReachesIntoObjects()
    {
        var signUp = await SignUpAsAdminAsync();
        await _cli.OkAsync("principal", "create", "--name", "walt", "--role", "engineer", "--account", signUp.Account.Id);

        var list = await _cli.OkAsync("principal", "list", "--account", signUp.Account.Id, "-o", "value", "-c", "name", "-c", "state");
        var nested = await _cli.OkAsync("-o", "value", "account", "sign-up", "--name", Names.Unique("nest"), "--display-name", "N", "-c", "account.name,token.secret");

        list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ShouldBe(["admin\tactive", "walt\tactive"]);
        nested.Out.ShouldMatch(@"^nest-\w+\twkn_\S+\n$");
    }

    [Fact]
    public async Task Value_WithAMisspeltColumn_SuggestsTheField()
    {
        var signUp = await SignUpAsAdminAsync();

        var result = await _cli.RunAsync("principal", "list", "--account", signUp.Account.Id, "-o", "value", "-c", "nmae");

        result.ExitCode.ShouldBe(2, result.ToString());
        result.Out.ShouldBeEmpty();
        result.Err.ShouldBe("Error: Unknown field 'nmae' in --column nmae (did you mean 'name'?).\n");
    }

    [Fact]
    public async Task Column_WithoutValueOutput_IsAUsageError()
    {
        var result = await _cli.RunAsync("principal", "list", "-c", "name");

        result.ExitCode.ShouldBe(2);
        result.Err.ShouldBe("Error: --column chooses the fields of --output value: add -o value.\n");
    }
}
