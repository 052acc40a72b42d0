using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Security;

/// <summary>
/// A <see cref="WelkinApp"/> with a fake clock, every log line captured, and a client address
/// each test can choose (header <see cref="ClientAddressHeader"/>), since the test server has
/// no real connections and login throttling counts per address.
/// </summary>
public class SecurityApp : WelkinApp
{
    public const string ClientAddressHeader = "X-Test-Client-Address";

    public FakeTimeProvider Clock { get; } = new();

    public CapturedLogs Logs { get; } = new();

    public string DatabasePath => Path.Combine(DataDir, "welkin.db");

    protected override TimeProvider ServerClock => Clock;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging =>
        {
            logging.AddProvider(Logs);
            logging.AddFilter<CapturedLogs>(null, LogLevel.Trace);
        });
        builder.ConfigureTestServices(services => services.AddSingleton<IStartupFilter, ClientAddressStartupFilter>());
    }

    /// <summary>A client whose requests come from <paramref name="address"/>.</summary>
    public HttpClient From(string address, string? token = null)
    {
        var client = token is null ? Anonymous() : As(token);
        client.DefaultRequestHeaders.Add(ClientAddressHeader, address);
        return client;
    }

    private static int _addresses;

    /// <summary>A client address no other test uses, so throttling counts of one test never touch another's.</summary>
    public static string NewAddress()
    {
        var n = Interlocked.Increment(ref _addresses);
        return $"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}";
    }

    /// <summary>Creates a principal in the account of <paramref name="accountAdmin"/> and returns it with a token.</summary>
    public async Task<(PrincipalView Principal, string Token)> AccountPrincipalAsync(HttpClient accountAdmin, Role role, string? password = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var name = role.ToString().ToLowerInvariant() + "-" + Guid.NewGuid().ToString("n")[..8];
        var principal = await (await accountAdmin.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest(name, [role], Password: password), WelkinJson.Client, ct))
            .ReadAsync<PrincipalView>(HttpStatusCode.Created);
        var token = await (await accountAdmin.PostAsJsonAsync($"/api/v1/principals/{principal.Id}/tokens", new CreateTokenRequest("test"), WelkinJson.Client, ct))
            .ReadAsync<IssuedToken>(HttpStatusCode.Created);
        return (principal, token.Secret);
    }

    /// <summary>A connection straight to the SQLite file, bypassing Welkin (to inspect or tamper with it).</summary>
    public SqliteConnection OpenDatabaseFile()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private sealed class ClientAddressStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (IPAddress.TryParse(context.Request.Headers[ClientAddressHeader].ToString(), out var address))
                {
                    context.Connection.RemoteIpAddress = address;
                }
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}

/// <summary>Every log message, scope and exception the server writes, as text.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable BeginScope<TState>(TState state) where TState : notnull
        {
            lines.Enqueue($"{category} scope: {Describe(state)}");
            return NullScope.Instance;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} | {Describe(state)} | {exception}");
        }

        private static string Describe(object? state) =>
            state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? string.Join("; ", pairs.Select(kv => $"{kv.Key}={kv.Value}"))
                : state?.ToString() ?? "";
    }

    private sealed class NullScope : IDisposable
    {
        public static readonly NullScope Instance = new();

        public void Dispose()
        {
        }
    }
}
