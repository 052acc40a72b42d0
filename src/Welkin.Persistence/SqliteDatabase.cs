using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Dapper;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Persistence;

/// <summary>
/// The embedded default: one SQLite file in WAL mode with <c>synchronous=FULL</c>, so a commit
/// that returned is on disk even after power loss.
/// <para>
/// Writes use group commit. SQLite has one writer at a time and a durable commit costs an
/// fsync, so instead of one transaction per caller, one writer loop takes every pending work
/// (up to <see cref="MaxBatch"/>), runs each inside its own SAVEPOINT of one
/// <c>BEGIN IMMEDIATE</c> transaction, and commits once. A work whose result is an error, or
/// that throws, is rolled back to its savepoint alone; the others commit. Callers are answered
/// only after the commit, so a success still means durable. Works run one after another, so
/// whatever they read and update inside the transaction (the audit head, the event counter)
/// is exactly as serialised as with one transaction each.
/// </para>
/// Reads (<see cref="ReadAsync{T}"/>, <see cref="OpenAsync"/>) use pooled connections of their
/// own; in WAL mode they see the last commit and never wait for the writer.
/// </summary>
public sealed class SqliteDatabase : IDatabase, IMigrationDialect
{
    /// <summary>
    /// Most works in one transaction: bounds how long the first of them waits for its answer
    /// when many arrive at once (each costs tens to hundreds of microseconds).
    /// </summary>
    public const int MaxBatch = 256;

    private const string Savepoint = "welkin_work";

    // Per-connection settings live on the native handle, which the connection pool keeps open;
    // applying them once per handle takes them off every pooled open.
    private static readonly ConditionalWeakTable<sqlite3, object> Configured = [];
    private static readonly object Applied = new();

    private static readonly AsyncLocal<WorkScope?> CurrentWork = new();

    private readonly string _connectionString;
    private readonly Channel<PendingWrite> _queue =
        Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private int _writerRunning;
    private long _commits;
    private long _committedWorks;
    private readonly StrongBox<long> _writerStatements = new();
    private volatile bool _walApplied;

    public SqliteDatabase(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    public string Provider => "sqlite";

    /// <summary>Write transactions committed and the works they carried, since this instance was made (works per commit = batching).</summary>
    public (long Commits, long Works) CommitCounts => (Interlocked.Read(ref _commits), Interlocked.Read(ref _committedWorks));

    /// <summary>Statements the writer has run (savepoints included), since this instance was made.</summary>
    public long WriterStatements => Interlocked.Read(ref _writerStatements.Value);

    public string Json => "TEXT";

    public string Money => "TEXT";

    public async Task<DbConnection> OpenAsync(CancellationToken ct) => await OpenSqliteAsync(ct);

    private async Task<SqliteConnection> OpenSqliteAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(ct);
            if (!_walApplied)
            {
                // The journal mode is stored in the file: once per process is enough. busy_timeout
                // first: switching a new file to WAL needs a lock another connection may hold.
                await ExecuteAsync(connection, "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL;", ct);
                _walApplied = true;
            }
            var handle = connection.Handle!;
            if (!Configured.TryGetValue(handle, out _))
            {
                await ExecuteAsync(connection, "PRAGMA busy_timeout = 30000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", ct);
                Configured.AddOrUpdate(handle, Applied);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Queues <paramref name="work"/> for the writer loop and completes once its transaction has
    /// committed (success) or its savepoint was rolled back (error result or exception).
    /// Cancelling <paramref name="ct"/> removes a work that has not started; once started, the
    /// caller gets its real outcome.
    /// </summary>
    public Task<Result<T>> WriteAsync<T>(Func<Tx, Task<Result<T>>> work, CancellationToken ct)
    {
        if (CurrentWork.Value is { Active: true } scope && ReferenceEquals(scope.Owner, this))
        {
            // The writer loop is waiting for the calling work, so this write could never start.
            throw new InvalidOperationException(
                "A write transaction's work called WriteAsync on the same database. Use the Tx it was given instead.");
        }
        if (ct.IsCancellationRequested)
        {
            return Task.FromCanceled<Result<T>>(ct);
        }
        var pending = new PendingWrite<T>(work, ExecutionContext.Capture(), this);
        pending.ListenFor(ct);
        _queue.Writer.TryWrite(pending);
        EnsureWriter();
        return pending.Task;
    }

    public async Task<T> ReadAsync<T>(Func<Tx, Task<T>> work, CancellationToken ct)
    {
        // A deferred transaction in WAL mode reads one snapshot (fixed at its first read) and takes no write lock.
        await using var connection = await OpenSqliteAsync(ct);
        await using var transaction = connection.BeginTransaction(deferred: true);
        var result = await work(new Tx(connection, transaction));
        await transaction.RollbackAsync(ct);
        return result;
    }

    public async Task<bool> PingAsync(CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM schema_migrations", cancellationToken: ct)) > 0;
    }

    private void EnsureWriter()
    {
        if (Interlocked.CompareExchange(ref _writerRunning, 1, 0) == 0)
        {
            // The loop serves every caller, so it must not carry the first one's execution context.
            using (ExecutionContext.SuppressFlow())
            {
                _ = Task.Run(WriterLoopAsync);
            }
        }
    }

    /// <summary>
    /// Runs while there is work and ends when the queue is empty, returning its connection to
    /// the pool, so an idle database holds no task and no extra connection.
    /// </summary>
    private async Task WriterLoopAsync()
    {
        StatementCachingConnection? connection = null;
        var batch = new List<PendingWrite>(MaxBatch);
        try
        {
            while (true)
            {
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
                {
                    if (!next.IsCancelled)
                    {
                        batch.Add(next);
                    }
                }
                if (batch.Count == 0)
                {
                    Volatile.Write(ref _writerRunning, 0);
                    // A work queued after the last TryRead saw the loop running and started none.
                    if (_queue.Reader.Count == 0 || Interlocked.CompareExchange(ref _writerRunning, 1, 0) != 0)
                    {
                        return;
                    }
                    continue;
                }
                try
                {
                    connection ??= new StatementCachingConnection(await OpenSqliteAsync(CancellationToken.None), _writerStatements);
                    await RunBatchAsync(connection, batch);
                }
                catch (Exception e)
                {
                    // Opening, BEGIN or COMMIT failed (disk full, I/O error): no work of the batch
                    // committed. Start the next batch on a fresh connection.
                    foreach (var p in batch)
                    {
                        p.Fail(e);
                    }
                    if (connection is not null)
                    {
                        await connection.DisposeAsync();
                        connection = null;
                    }
                }
                batch.Clear();
            }
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private async Task RunBatchAsync(StatementCachingConnection connection, List<PendingWrite> batch)
    {
        var handle = connection.Inner.Handle;
        var index = 0;
        var succeeded = new List<PendingWrite>(batch.Count);
        while (index < batch.Count)
        {
            succeeded.Clear();
            var lost = false;
            var transaction = connection.Inner.BeginTransaction(deferred: false);
            try
            {
                for (; index < batch.Count && !lost; index++)
                {
                    var p = batch[index];
                    if (!p.TryStart())
                    {
                        continue;
                    }
                    await ExecuteAsync(connection, $"SAVEPOINT {Savepoint}", transaction);
                    Exception? thrown = null;
                    var ok = false;
                    try
                    {
                        ok = await p.RunAsync(new Tx(connection, transaction));
                    }
                    catch (Exception e)
                    {
                        thrown = e;
                    }
                    if (raw.sqlite3_get_autocommit(handle) != 0)
                    {
                        // SQLite rolled back the whole transaction itself (I/O error, disk full,
                        // out of memory): the works before this one are undone too.
                        lost = true;
                        var cause = thrown ?? new InvalidOperationException("SQLite rolled back the transaction.");
                        p.Fail(cause);
                        foreach (var s in succeeded)
                        {
                            s.Fail(new IOException("The transaction was rolled back by the database before it committed.", cause));
                        }
                        succeeded.Clear();
                    }
                    else if (ok)
                    {
                        await ExecuteAsync(connection, $"RELEASE {Savepoint}", transaction);
                        succeeded.Add(p);
                    }
                    else
                    {
                        await ExecuteAsync(connection, $"ROLLBACK TO {Savepoint}", transaction);
                        await ExecuteAsync(connection, $"RELEASE {Savepoint}", transaction);
                        if (thrown is null)
                        {
                            p.Complete();
                        }
                        else
                        {
                            p.Fail(thrown);
                        }
                    }
                }
                if (!lost)
                {
                    transaction.Commit();
                    Interlocked.Increment(ref _commits);
                    Interlocked.Add(ref _committedWorks, succeeded.Count);
                    foreach (var s in succeeded)
                    {
                        s.Committed();
                    }
                }
            }
            catch (Exception e)
            {
                // BEGIN, a savepoint statement or COMMIT failed: nothing of this transaction committed.
                foreach (var s in succeeded)
                {
                    s.Fail(e);
                }
                throw;
            }
            finally
            {
                DisposeQuietly(transaction);
            }
        }
    }

    private static void DisposeQuietly(SqliteTransaction transaction)
    {
        try
        {
            transaction.Dispose();
        }
        catch (SqliteException)
        {
            // Rolling back a transaction SQLite has already rolled back.
        }
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, SqliteTransaction transaction)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Marks the async flow of a running work, so a nested WriteAsync is refused instead of waiting forever.</summary>
    private sealed class WorkScope(SqliteDatabase owner)
    {
        public SqliteDatabase Owner { get; } = owner;

        public bool Active { get; set; } = true;
    }

    private abstract class PendingWrite
    {
        private const int Queued = 0;
        private const int Started = 1;
        private const int Cancelled = 2;

        private int _state;

        public bool IsCancelled => Volatile.Read(ref _state) == Cancelled;

        /// <summary>False when the caller cancelled before the work started.</summary>
        public bool TryStart() => Interlocked.CompareExchange(ref _state, Started, Queued) == Queued;

        protected bool TryCancel() => Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued;

        /// <summary>Runs the work; true when its result is a success.</summary>
        public abstract Task<bool> RunAsync(Tx tx);

        /// <summary>Answers the caller with the work's result.</summary>
        public abstract void Complete();

        /// <summary>Runs the work's after-commit actions, then answers the caller.</summary>
        public abstract void Committed();

        public abstract void Fail(Exception e);
    }

    private sealed class PendingWrite<T>(Func<Tx, Task<Result<T>>> work, ExecutionContext? context, SqliteDatabase owner) : PendingWrite
    {
        private readonly TaskCompletionSource<Result<T>> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenRegistration _registration;
        private Result<T> _result;

        public Task<Result<T>> Task => _done.Task;

        public void ListenFor(CancellationToken ct)
        {
            if (ct.CanBeCanceled)
            {
                _registration = ct.UnsafeRegister(static (state, token) =>
                {
                    var self = (PendingWrite<T>)state!;
                    if (self.TryCancel())
                    {
                        self._done.TrySetCanceled(token);
                    }
                }, this);
            }
        }

        private Tx? _tx;

        public override Task<bool> RunAsync(Tx tx)
        {
            _tx = tx;
            _registration.Unregister();
            if (context is null)
            {
                return InvokeAsync(tx);
            }
            // The work runs in its caller's execution context (logging scopes, activity), not the loop's.
            Task<bool>? task = null;
            ExecutionContext.Run(context, _ => task = InvokeAsync(tx), null);
            return task!;
        }

        private async Task<bool> InvokeAsync(Tx tx)
        {
            var scope = new WorkScope(owner);
            CurrentWork.Value = scope;
            try
            {
                _result = await work(tx);
                return _result.IsSuccess;
            }
            finally
            {
                scope.Active = false;
            }
        }

        public override void Complete() => _done.TrySetResult(_result);

        public override void Committed()
        {
            try
            {
                _tx?.RunCommitted();
            }
            catch (Exception e)
            {
                // A broken after-commit action is a bug; report it to its own caller only.
                _done.TrySetException(e);
                return;
            }
            Complete();
        }

        public override void Fail(Exception e)
        {
            _registration.Unregister();
            _done.TrySetException(e);
        }
    }
}
