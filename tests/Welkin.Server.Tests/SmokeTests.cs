using System.Net;
using System.Net.Http.Json;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests;

public sealed class SmokeTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    [Fact]
    public async Task Readiness_WhenDatabaseMigrated_IsHealthy()
    {
        var response = await app.Anonymous().GetAsync("/health/ready", TestContext.Current.CancellationToken);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SignUp_CreatesAccountAndAdminWhoseTokenWorks()
    {
        var (signUp, client) = await app.SignUpAsync("smoke");
        var me = await (await client.GetAsync("/api/v1/me", TestContext.Current.CancellationToken)).ReadAsync<WhoAmI>();
        me.Principal.Id.ShouldBe(signUp.Admin.Id);
        me.Principal.Roles.ShouldBe([Role.AccountAdmin]);
        me.AccountName.ShouldBe(signUp.Account.Name);
    }

    [Fact]
    public async Task Me_WithoutToken_Returns401Problem()
    {
        var response = await app.Anonymous().GetAsync("/api/v1/me", TestContext.Current.CancellationToken);
        await response.ProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        response.Headers.Contains("X-Correlation-Id").ShouldBeTrue();
    }
}
