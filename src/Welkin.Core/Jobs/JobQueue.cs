using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Jobs;

/// <summary>A job as its handler sees it.</summary>
/// <param name="Request">The JSON the enqueuer stored (action-specific).</param>
public sealed record JobRecord(
    string Id, string? AccountId, string Action, string Target, string? Request, long Attempts, string CreatedBy, string? CorrelationId, string? ParentId);

/// <summary>The query of <c>GET /api/v1/jobs</c>: filters and the page.</summary>
public sealed record JobListQuery(
    string? State = null, string? Target = null, string? Action = null, string? AccountId = null, string? After = null, int Limit = 100);

/// <summary>
/// Asynchronous work (CIMI Job). A service accepts a request by inserting a queued job in the
/// transaction of the change, so an accepted request survives any crash; <see cref="JobRunner"/>
/// runs it, and again from the start after a restart (handlers are idempotent).
/// </summary>
public sealed class JobQueue(IDatabase db, TimeProvider clock, ILogger<JobQueue>? logger = null) : IDisposable
{
    private readonly ILogger _logger = logger ?? NullLogger<JobQueue>.Instance;

    /// <summary>The server's clock, for handlers that pace what they write.</summary>
    internal TimeProvider Clock => clock;

    public static readonly string Queued = WireNames.Of(JobState.Queued);
    public static readonly string Running = WireNames.Of(JobState.Running);
    public static readonly string Succeeded = WireNames.Of(JobState.Succeeded);
    public static readonly string Failed = WireNames.Of(JobState.Failed);

    private const string Columns =
        "id AS Id, account_id AS AccountId, action AS Action, target AS Target, state AS State, progress AS Progress, status_message AS StatusMessage, " +
        "error_code AS ErrorCode, error_detail AS ErrorDetail, parent_id AS ParentId, request AS Request, result AS Result, attempts AS Attempts, " +
        "created_by AS CreatedBy, correlation_id AS CorrelationId, version AS Version, created_at AS CreatedAt, started_at AS StartedAt, " +
        "finished_at AS FinishedAt, updated_at AS UpdatedAt";

    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);

    /// <summary>Inserts a queued job in the caller's transaction. Call <see cref="Wake"/> after the commit.</summary>
    public async Task<JobView> EnqueueAsync(Tx tx, Caller caller, string? accountId, string action, string target, object? request = null, string? parentId = null)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new JobRow(Ids.New(Ids.Job, clock), accountId, action, target, Queued, 0, null, null, null, parentId,
            request is null ? null : JsonSerializer.Serialize(request, WelkinJson.Client), null, 0, caller.PrincipalId, caller.CorrelationId, 1, now, null, null, now);
        await tx.ExecuteAsync(
            """
            INSERT INTO jobs (id, account_id, action, target, state, progress, parent_id, request, attempts, created_by, correlation_id, version, created_at, updated_at)
            VALUES (@Id, @AccountId, @Action, @Target, @State, @Progress, @ParentId, @Request, @Attempts, @CreatedBy, @CorrelationId, @Version, @CreatedAt, @UpdatedAt)
            """, row);
        return ToView(row);
    }

    public void Dispose() => _signal.Dispose();

    /// <summary>Tells the runner that jobs were committed, so it need not wait for its next poll.</summary>
    public void Wake() => _signal.Release();

    internal Task<bool> WaitForWorkAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);

    /// <summary>Marks the job succeeded in the transaction of the handler's final change.</summary>
    public async Task SucceedAsync(Tx tx, string jobId, object? result = null, string? message = null)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await tx.ExecuteAsync(
            """
            UPDATE jobs SET state = @State, progress = 100, status_message = @Message, result = @Result, finished_at = @Now, updated_at = @Now, version = version + 1
            WHERE id = @Id
            """,
            new { State = Succeeded, Message = message, Result = result is null ? null : JsonSerializer.Serialize(result, WelkinJson.Client), Now = now, Id = jobId });
    }

    /// <summary>
    /// Marks the job failed with an explicit problem, in the transaction of the handler's final
    /// change. The job keeps the error's code and detail (what its owner reads); the error's
    /// <see cref="Error.Cause"/> goes only to the log (with the job's correlation id, from the runner's scope).
    /// </summary>
    public async Task FailAsync(Tx tx, string jobId, Error error, object? result = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.Cause is { } cause)
        {
            _logger.LogWarning("Job {Job} fails with {Code}: {Cause}", jobId, error.Code, cause);
        }
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await tx.ExecuteAsync(
            """
            UPDATE jobs SET state = @State, error_code = @Code, error_detail = @Detail, result = @Result, finished_at = @Now, updated_at = @Now, version = version + 1
            WHERE id = @Id
            """,
            new { State = Failed, error.Code, error.Detail, Result = result is null ? null : JsonSerializer.Serialize(result, WelkinJson.Client), Now = now, Id = jobId });
    }

    /// <summary>Records progress (0-99) and a status line; a small write of its own.</summary>
    public Task ReportProgressAsync(string jobId, int percent, string? message, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(
                "UPDATE jobs SET progress = @Progress, status_message = @Message, updated_at = @Now WHERE id = @Id AND state = @Running",
                new { Progress = Math.Clamp(percent, 0, 99), Message = message, Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), Id = jobId, Running });
            return true;
        }, ct);

    /// <summary>
    /// Keeps what a running job has done so far (a transfer's id, a file it made) in its result, so an attempt
    /// after a restart goes on from there; the job's end replaces it.
    /// </summary>
    public Task SaveStateAsync(string jobId, object state, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync("UPDATE jobs SET result = @Result, updated_at = @Now WHERE id = @Id AND state = @Running",
                new { Result = JsonSerializer.Serialize(state, WelkinJson.Client), Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), Id = jobId, Running });
            return true;
        }, ct);

    /// <summary>What <see cref="SaveStateAsync"/> kept for the job; null when nothing was.</summary>
    public async Task<T?> StateAsync<T>(string jobId, CancellationToken ct)
        where T : class
    {
        var json = await db.ReadAsync(tx => tx.ExecuteScalarAsync<string?>("SELECT result FROM jobs WHERE id = @Id", new { Id = jobId }), ct);
        return json is null ? null : JsonSerializer.Deserialize<T>(json, WelkinJson.Client);
    }

    /// <summary>The jobs a job started (its children), oldest first.</summary>
    public Task<IReadOnlyList<JobChild>> ChildrenAsync(string jobId, CancellationToken ct) =>
        db.QueryAsync<JobChild>("SELECT id AS Id, target AS Target, state AS State FROM jobs WHERE parent_id = @Id ORDER BY id", new { Id = jobId }, ct);

    /// <summary>
    /// Lets a running job wait for its children: true when it now waits (some child is still
    /// queued or running, and each one's end wakes it, <see cref="WakeParentAsync"/>); false when
    /// they all finished meanwhile, and the job is queued to run again at once. One statement, so a
    /// child that finishes while its parent decides to wait either counts as finished here or
    /// finds the parent waiting.
    /// </summary>
    internal async Task<bool> WaitForChildrenAsync(string jobId, CancellationToken ct)
    {
        var result = await db.WriteAsync<bool>(async tx =>
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var waits = await tx.ExecuteAsync(
                """
                UPDATE jobs SET waiting = 1, updated_at = @Now
                WHERE id = @Id AND state = @Running
                  AND EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = @Id AND (c.state = @Queued OR c.state = @Running))
                """, new { Now = now, Id = jobId, Running, Queued }) == 1;
            if (!waits)
            {
                await tx.ExecuteAsync("UPDATE jobs SET state = @Queued, updated_at = @Now, version = version + 1 WHERE id = @Id AND state = @Running",
                    new { Queued, Now = now, Id = jobId, Running });
            }
            return waits;
        }, ct);
        if (!result.Value)
        {
            Wake();
        }
        return result.Value;
    }

    /// <summary>A child of <paramref name="parentId"/> finished: a parent waiting for its children runs again.</summary>
    internal async Task WakeParentAsync(string parentId, CancellationToken ct)
    {
        var result = await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            "UPDATE jobs SET state = @Queued, waiting = 0, updated_at = @Now, version = version + 1 WHERE id = @Id AND state = @Running AND waiting = 1",
            new { Queued, Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), Id = parentId, Running }), ct);
        if (result.Value > 0)
        {
            Wake();
        }
    }

    /// <summary>Runs again every waiting job whose children have all finished (a wake a crash lost); returns how many.</summary>
    internal async Task<int> WakeFinishedWaitersAsync(CancellationToken ct)
    {
        var result = await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            """
            UPDATE jobs SET state = @Queued, waiting = 0, updated_at = @Now, version = version + 1
            WHERE state = @Running AND waiting = 1
              AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = jobs.id AND (c.state = @Queued OR c.state = @Running))
            """, new { Queued, Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), Running }), ct);
        if (result.Value > 0)
        {
            Wake();
        }
        return result.Value;
    }

    /// <summary>Marks the job's one-time secrets issued; false when another read issued them first.</summary>
    public async Task<bool> MarkSecretsIssuedAsync(Tx tx, string jobId) =>
        await tx.ExecuteAsync(
            "UPDATE jobs SET passwords_issued_at = @Now, version = version + 1 WHERE id = @Id AND passwords_issued_at IS NULL",
            new { Now = clock.GetUtcNow().ToUnixTimeMilliseconds(), Id = jobId }) == 1;

    /// <summary>True while a queued or running job works on <paramref name="target"/>: one operation at a time per machine or instance.</summary>
    public static async Task<bool> BusyAsync(Tx tx, string target) =>
        await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE target = @Target AND state IN ('queued', 'running')", new { Target = target }) > 0;

    /// <summary>True while a queued or running job works on any of <paramref name="targets"/>.</summary>
    internal static async Task<bool> BusyAsync(IDatabase db, IReadOnlyList<string> targets, CancellationToken ct)
    {
        var args = new DynamicParameters();
        return await db.ExecuteScalarAsync<long>(
            $"SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') AND target {SqlLists.In(args, "Target", targets)}", args, ct) > 0;
    }

    /// <summary>Jobs queued, and jobs running that do not wait for their children; jobs of <paramref name="exceptAction"/> are not counted.</summary>
    internal static async Task<(long Queued, long Running)> CountActiveAsync(IDatabase db, string exceptAction, CancellationToken ct)
    {
        var counts = await db.QuerySingleOrDefaultAsync<JobCounts>(
            "SELECT COALESCE(SUM(CASE WHEN state = @Queued THEN 1 ELSE 0 END), 0) AS Queued, " +
            "COALESCE(SUM(CASE WHEN state = @Running AND waiting = 0 THEN 1 ELSE 0 END), 0) AS Running FROM jobs WHERE state IN (@Queued, @Running) AND action <> @Except",
            new { Queued, Running, Except = exceptAction }, ct);
        return counts is null ? (0, 0) : (counts.Queued, counts.Running);
    }

    public static async Task<bool> IsFinishedAsync(Tx tx, string jobId) =>
        await tx.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM jobs WHERE id = @Id AND state IN ('succeeded', 'failed', 'cancelled')", new { Id = jobId }) > 0;

    public async Task<Result<JobView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!Ids.IsValid(id, Ids.Job))
        {
            return Error.InvalidId(id, "job");
        }
        if (Tenancy.Require(caller, Permission.ResourcesRead, "Reading jobs") is { } denied)
        {
            return denied;
        }
        var row = await db.QuerySingleOrDefaultAsync<JobRow>($"SELECT {Columns} FROM jobs WHERE id = @Id", new { Id = id }, ct);
        if (row is null || !Tenancy.Sees(caller, row.AccountId))
        {
            return Error.NotFound("Job", id);
        }
        return ToView(row);
    }

    /// <summary>Jobs of the caller's account (provider roles: of any account, or all), newest last; filter by state, target or action.</summary>
    public async Task<Result<Page<JobView>>> ListAsync(Caller caller, JobListQuery query, CancellationToken ct)
    {
        var scope = Tenancy.Scope(caller, Permission.ResourcesRead, query.AccountId, "Listing jobs");
        if (!scope.IsSuccess)
        {
            return scope.Error!;
        }
        if (Filters.Page<JobState>(query.After, Ids.Job, "job", query.State) is { } invalid)
        {
            return invalid;
        }
        var paging = new Paging(query.Limit);
        var rows = await db.QueryAsync<JobRow>(
            $"""
            SELECT {Columns} FROM jobs
            WHERE id > @After AND (@Scope IS NULL OR account_id = @Scope) AND (@State IS NULL OR state = @State)
              AND (@Target IS NULL OR target = @Target) AND (@Action IS NULL OR action = @Action)
            ORDER BY id LIMIT @Take
            """,
            new { After = query.After ?? "", Scope = scope.Value, query.State, query.Target, query.Action, paging.Take }, ct);
        return paging.Page(rows, ToView, v => v.Id);
    }

    /// <summary>Jobs a crash left running go back to the queue; returns how many.</summary>
    internal async Task<int> RequeueInterruptedAsync(CancellationToken ct)
    {
        var result = await db.WriteAsync<int>(async tx =>
            await tx.ExecuteAsync(
                "UPDATE jobs SET state = @Queued, waiting = 0, status_message = @Message, updated_at = @Now, version = version + 1 WHERE state = @Running",
                new { Queued, Running, Message = "resumed after a restart", Now = clock.GetUtcNow().ToUnixTimeMilliseconds() }), ct);
        return result.Value;
    }

    /// <summary>Claims up to <paramref name="max"/> queued jobs (oldest first) in one transaction.</summary>
    internal async Task<IReadOnlyList<JobRecord>> ClaimAsync(int max, CancellationToken ct)
    {
        var result = await db.WriteAsync<IReadOnlyList<JobRecord>>(async tx =>
        {
            var candidates = (await tx.QueryAsync<JobRow>($"SELECT {Columns} FROM jobs WHERE state = @Queued ORDER BY id LIMIT @Max", new { Queued, Max = max })).AsList();
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var claimed = new List<JobRecord>(candidates.Count);
            foreach (var row in candidates)
            {
                // Conditional on the state, so two runners sharing one database never both claim a job.
                var n = await tx.ExecuteAsync(
                    """
                    UPDATE jobs SET state = @Running, attempts = attempts + 1, started_at = COALESCE(started_at, @Now), updated_at = @Now, version = version + 1
                    WHERE id = @Id AND state = @Queued
                    """, new { Running, Queued, Now = now, row.Id });
                if (n == 1)
                {
                    claimed.Add(new JobRecord(row.Id, row.AccountId, row.Action, row.Target, row.Request, row.Attempts + 1, row.CreatedBy, row.CorrelationId, row.ParentId));
                }
            }
            return claimed;
        }, ct);
        return result.Value;
    }

    private static JobView ToView(JobRow r) =>
        new(r.Id, r.AccountId, r.Action, r.Target, WireNames.Parse<JobState>(r.State), (int)r.Progress, r.StatusMessage, r.ErrorCode, r.ErrorDetail, r.ParentId,
            r.Result is null ? null : JsonDocument.Parse(r.Result).RootElement.Clone(),
            DbTime.FromDb(r.CreatedAt), DbTime.FromDb(r.StartedAt), DbTime.FromDb(r.FinishedAt));

    private sealed record JobCounts(long Queued, long Running);

    private sealed record JobRow(
        string Id, string? AccountId, string Action, string Target, string State, long Progress, string? StatusMessage, string? ErrorCode,
        string? ErrorDetail, string? ParentId, string? Request, string? Result, long Attempts, string CreatedBy, string? CorrelationId,
        long Version, long CreatedAt, long? StartedAt, long? FinishedAt, long UpdatedAt);
}

/// <summary>A job as another job sees it: what it works on and how far it got.</summary>
public sealed record JobChild(string Id, string Target, string State);
