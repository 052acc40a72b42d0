using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Jobs;
using Welkin.Core.Security;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Jobs;

/// <summary>
/// A hypervisor's own account of a failure (which can name host paths) never reaches a tenant:
/// a failed job and a problem carry the fixed detail, and the cause is logged with the correlation id.
/// </summary>
public sealed class ErrorCauseTests(ErrorCauseTests.App app) : IClassFixture<ErrorCauseTests.App>
{
    private const string Cause = "QEMU refused to start (exit code 1): could not open /srv/welkin/qemu/machines/mch_x/disk.qcow2";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A server with a job handler that fails as a driver would, and every log entry captured with its scopes.</summary>
    public sealed class App : WelkinApp
    {
        public ScopedLogs Logs { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging =>
            {
                logging.AddProvider(Logs);
                logging.AddFilter<ScopedLogs>(null, LogLevel.Trace);
            });
            builder.ConfigureTestServices(services => services.AddJobHandler<LaunchFailingHandler>());
        }
    }

    /// <summary>Fails its job with the error a driver gives when the machine could not be launched.</summary>
    public sealed class LaunchFailingHandler(IDatabase db) : IJobHandler
    {
        public const string Name = "test.launch-fails";

        public string Action => Name;

        public Task RunAsync(JobContext context, CancellationToken ct) =>
            db.WriteAsync<bool>(async tx =>
            {
                await context.Queue.FailAsync(tx, context.Job.Id, DriverErrors.HypervisorFailed(context.Job.Target, HypervisorFailure.Launch, Cause));
                return true;
            }, ct);
    }

    [Fact]
    public async Task FailedJob_KeepsTheFixedDetail_AndTheCauseIsLoggedWithItsCorrelationId()
    {
        var queue = app.Services.GetRequiredService<JobQueue>();
        var db = app.Services.GetRequiredService<IDatabase>();
        var correlationId = "corr-" + Guid.NewGuid().ToString("n")[..12];
        var enqueued = await db.WriteAsync<JobView>(async tx => await queue.EnqueueAsync(tx, Caller.System(correlationId), null, LaunchFailingHandler.Name, "mch_cause"), Ct);
        queue.Wake();

        await JobWaits.FinishedAsync(app, enqueued.Value.Id);

        var job = await (await app.Admin().GetAsync($"/api/v1/jobs/{enqueued.Value.Id}", Ct)).ReadAsync<JobView>();
        job.State.ShouldBe(JobState.Failed);
        job.ErrorCode.ShouldBe("hypervisor-error");
        job.ErrorDetail.ShouldBe("Machine 'mch_cause': the machine could not be launched.");
        var logged = app.Logs.Entries.Where(e => e.Message.Contains(Cause, StringComparison.Ordinal)).ToList();
        logged.ShouldNotBeEmpty();
        logged.ShouldContain(e => e.Level == LogLevel.Warning && e.Scopes.Contains($"CorrelationId={correlationId}") && e.Scopes.Contains($"JobId={job.Id}"));
    }

    [Fact]
    public void Problem_ForAnErrorWithACause_ShowsOnlyTheDetail_AndLogsTheCauseWithTheCorrelationId()
    {
        var logs = new ScopedLogs();
        using var services = new ServiceCollection().AddLogging(b => b.AddProvider(logs)).BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services, TraceIdentifier = "corr-problem" };
        var error = DriverErrors.HypervisorFailed("mch_1", HypervisorFailure.Command, "QMP device_add: /var/lib/welkin/volumes/vol_1.qcow2 is locked");

        var problem = Problems.From(error, context);

        problem.StatusCode.ShouldBe((int)HttpStatusCode.Conflict);
        problem.ProblemDetails.Detail.ShouldBe("Machine 'mch_1': the hypervisor refused a command.");
        JsonSerializer.Serialize(problem.ProblemDetails).ShouldNotContain("/var/lib/welkin");
        JsonSerializer.Serialize(error).ShouldNotContain("/var/lib/welkin");
        logs.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains("corr-problem", StringComparison.Ordinal)
            && e.Message.Contains("/var/lib/welkin/volumes/vol_1.qcow2 is locked", StringComparison.Ordinal));
    }
}

/// <summary>Every log entry with the scopes it was written in (as <c>key=value</c>), so a test can see what a line was logged under.</summary>
public sealed class ScopedLogs : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    public sealed record LogEntry(string Category, LogLevel Level, string Message, IReadOnlyList<string> Scopes);

    private sealed class Logger(string category, ScopedLogs logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => logs._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<string>();
            logs._scopes.ForEachScope((scope, list) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object>> pairs)
                {
                    list.AddRange(pairs.Select(kv => $"{kv.Key}={kv.Value}"));
                }
                else if (scope is not null)
                {
                    list.Add(scope.ToString() ?? "");
                }
            }, scopes);
            logs._entries.Enqueue(new LogEntry(category, logLevel, formatter(state, exception), scopes));
        }
    }
}
