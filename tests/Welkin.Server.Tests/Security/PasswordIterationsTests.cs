using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Security;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Security;

/// <summary>A cloud started as production starts it: none of the test servers' settings, so passwords are hashed at the default count.</summary>
public sealed class ProductionSecurityApp : WelkinApp
{
    protected override IReadOnlyDictionary<string, string> CommonSettings => new Dictionary<string, string>();
}

/// <summary>
/// The PBKDF2 work factor: every other test hashes with <see cref="TestServers.PasswordIterations"/>,
/// so this is the one place that pins the production count of a server left at its defaults.
/// </summary>
public sealed class PasswordIterationsTests(ProductionSecurityApp app) : IClassFixture<ProductionSecurityApp>
{
    private const string Password = "correct horse battery staple";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Password_OnAServerWithDefaultSettings_IsHashedWith600000Iterations_AndLogsIn()
    {
        var name = "pin-" + Guid.NewGuid().ToString("n")[..12];
        var created = await (await app.Admin().PostAsJsonAsync("/api/v1/principals",
            new CreatePrincipalRequest(name, [Role.Auditor], Password: Password), WelkinJson.Client, Ct)).ReadAsync<PrincipalView>(HttpStatusCode.Created);

        (await StoredHashAsync(app, created.Id)).ShouldStartWith("pbkdf2-sha256$600000$");
        var login = await (await app.Anonymous().PostAsJsonAsync("/api/v1/auth/login", new LoginRequest(name, Password), WelkinJson.Client, Ct))
            .ReadAsync<LoginResponse>();
        login.Principal.Id.ShouldBe(created.Id);
    }

    internal static async Task<string> StoredHashAsync(WelkinApp app, string principalId) =>
        (await app.Services.GetRequiredService<IDatabase>().QueryAsync<string>(
            "SELECT password_hash FROM principals WHERE id = @Id", new { Id = principalId }, Ct)).Single();
}

/// <summary>The test servers' count comes through configuration, and only the Testing environment may set it below the floor.</summary>
public sealed class PasswordIterationsSettingTests(WelkinApp app) : IClassFixture<WelkinApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Password_OnATestServer_IsHashedWithTheConfiguredCount()
    {
        var (_, admin) = await app.SignUpAsync("iter");
        var created = await (await admin.PostAsJsonAsync("/api/v1/principals",
            new CreatePrincipalRequest("erin", [Role.Viewer], Password: "a long enough password"), WelkinJson.Client, Ct)).ReadAsync<PrincipalView>(HttpStatusCode.Created);

        (await PasswordIterationsTests.StoredHashAsync(app, created.Id)).ShouldStartWith($"pbkdf2-sha256${TestServers.PasswordIterations}$");
    }

    [Fact]
    public async Task Server_OutsideTesting_RefusesACountBelowTheFloor()
    {
        await using var production = new ProductionEnvironmentApp();

        var thrown = Should.Throw<Exception>(() => production.Server);

        thrown.ToString().ShouldContain($"Security:PasswordIterations must be at least {PasswordHasher.MinIterations}");
    }

    /// <summary>The test servers' settings (a count far below the floor) in the Production environment.</summary>
    private sealed class ProductionEnvironmentApp : WelkinApp
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseEnvironment("Production");
        }
    }
}
