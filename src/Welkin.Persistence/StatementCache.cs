using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Welkin.Persistence;

/// <summary>
/// The writer's connection, keeping one prepared <see cref="SqliteCommand"/> per SQL text.
/// <para>
/// Microsoft.Data.Sqlite prepares a statement on each new command and finalises it on dispose, and
/// Dapper makes a new command per call, so every statement of every write was parsed and planned
/// again: a large share of the single writer's time. Commands made through this connection look
/// up a kept command by their text instead; disposing one hands it back with its statements
/// prepared, reset and unbound, ready for the next call with the same text.
/// </para>
/// Only the writer loop uses it, one work at a time, so it needs no locking. A text whose kept
/// command is still in use (a reader open while the same query runs again) gets a command of its
/// own, and past <see cref="MaxStatements"/> texts new ones are not kept.
/// </summary>
internal sealed class StatementCachingConnection(SqliteConnection inner, StrongBox<long>? executions = null) : DbConnection
{
    /// <summary>Distinct SQL texts kept prepared; the schema's statements are a few hundred.</summary>
    public const int MaxStatements = 1024;

    private readonly Dictionary<string, Kept> _kept = new(StringComparer.Ordinal);

    public SqliteConnection Inner { get; } = inner;

    public int KeptStatements => _kept.Count;

    /// <summary>Counts one statement run (for the database's statistics).</summary>
    internal void Executed()
    {
        if (executions is not null)
        {
            Interlocked.Increment(ref executions.Value);
        }
    }

    [AllowNull]
    public override string ConnectionString
    {
        get => Inner.ConnectionString;
        set => throw new NotSupportedException("The writer's connection string is fixed.");
    }

    public override string Database => Inner.Database;

    public override string DataSource => Inner.DataSource;

    public override string ServerVersion => Inner.ServerVersion;

    public override ConnectionState State => Inner.State;

    public override void ChangeDatabase(string databaseName) => Inner.ChangeDatabase(databaseName);

    public override void Open() => Inner.Open();

    public override void Close() => Inner.Close();

    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => Inner.BeginTransaction(isolationLevel);

    protected override DbCommand CreateDbCommand() => new KeptCommand(this);

    /// <summary>The kept command for <paramref name="sql"/>, or a new one when it is busy or the cache is full (then not kept).</summary>
    internal (SqliteCommand Command, Kept? Entry) Take(string sql)
    {
        if (_kept.TryGetValue(sql, out var entry))
        {
            if (!entry.Busy)
            {
                entry.Busy = true;
                return (entry.Command, entry);
            }
            return (NewCommand(sql), null);
        }
        var command = NewCommand(sql);
        if (_kept.Count >= MaxStatements)
        {
            return (command, null);
        }
        entry = new Kept(command) { Busy = true };
        _kept[sql] = entry;
        return (command, entry);
    }

    private SqliteCommand NewCommand(string sql)
    {
        var command = Inner.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var entry in _kept.Values)
            {
                entry.Command.Dispose();
            }
            _kept.Clear();
            Inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (var entry in _kept.Values)
        {
            await entry.Command.DisposeAsync();
        }
        _kept.Clear();
        await Inner.DisposeAsync();
        await base.DisposeAsync();
    }

    internal sealed class Kept(SqliteCommand command)
    {
        public SqliteCommand Command { get; } = command;

        public bool Busy { get; set; }
    }

    /// <summary>
    /// What Dapper sees: a command whose text selects the kept command it runs on. Its parameters
    /// live in a collection of its own (Dapper holds on to the collection while it rewrites the
    /// text to expand a list), and are handed to the kept command when it runs.
    /// </summary>
    private sealed class KeptCommand(StatementCachingConnection owner) : DbCommand
    {
        // Never run: it only owns the parameter collection Dapper fills.
        private readonly SqliteCommand _parameters = new();
        private SqliteCommand? _command;
        private Kept? _entry;
        private string _text = "";
        private DbTransaction? _transaction;
        private int _timeout = 30;

        [AllowNull]
        public override string CommandText
        {
            get => _text;
            set
            {
                var text = value ?? "";
                if (text == _text && _command is not null)
                {
                    return;
                }
                Release();
                _text = text;
                (_command, _entry) = owner.Take(text);
                _command.Transaction = (SqliteTransaction?)_transaction;
                _command.CommandTimeout = _timeout;
            }
        }

        private SqliteCommand Command => _command ?? throw new InvalidOperationException("Set CommandText first.");

        public override int CommandTimeout
        {
            get => _timeout;
            set
            {
                _timeout = value;
                _command?.CommandTimeout = value;
            }
        }

        public override CommandType CommandType
        {
            get => CommandType.Text;
            set
            {
                if (value != CommandType.Text)
                {
                    throw new ArgumentException("SQLite runs text commands only.", nameof(value));
                }
            }
        }

        public override bool DesignTimeVisible { get; set; }

        public override UpdateRowSource UpdatedRowSource { get; set; }

        protected override DbConnection? DbConnection
        {
            get => owner;
            set
            {
                if (value is not null && !ReferenceEquals(value, owner))
                {
                    throw new InvalidOperationException("A kept command belongs to its connection.");
                }
            }
        }

        protected override DbParameterCollection DbParameterCollection => _parameters.Parameters;

        protected override DbTransaction? DbTransaction
        {
            get => _transaction;
            set
            {
                _transaction = value;
                _command?.Transaction = (SqliteTransaction?)value;
            }
        }

        public override void Cancel() => _command?.Cancel();

        public override int ExecuteNonQuery() => Bound().ExecuteNonQuery();

        public override object? ExecuteScalar() => Bound().ExecuteScalar();

        public override void Prepare() => Command.Prepare();

        protected override DbParameter CreateDbParameter() => new SqliteParameter();

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) => Bound().ExecuteReader(behavior);

        /// <summary>The kept command with this command's parameters, counted as one statement run.</summary>
        private SqliteCommand Bound()
        {
            var command = Command;
            command.Parameters.Clear();
            foreach (SqliteParameter p in _parameters.Parameters)
            {
                command.Parameters.Add(p);
            }
            owner.Executed();
            return command;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Release();
                _parameters.Dispose();
            }
            base.Dispose(disposing);
        }

        /// <summary>Hands a kept command back clean (no parameters, no transaction), or disposes one that was not kept.</summary>
        private void Release()
        {
            if (_command is null)
            {
                return;
            }
            _command.Parameters.Clear();
            _command.Transaction = null;
            if (_entry is not null)
            {
                _entry.Busy = false;
            }
            else
            {
                _command.Dispose();
            }
            _command = null;
            _entry = null;
        }
    }
}
