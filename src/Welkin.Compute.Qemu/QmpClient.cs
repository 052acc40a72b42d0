using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Welkin.Compute.Qemu;

/// <summary>An error QEMU answered a command with: its error class (for example <c>CommandNotFound</c>) and description.</summary>
public sealed record QmpError(string Class, string Description);

/// <summary>An asynchronous event QEMU sent (for example <c>STOP</c>, <c>RESUME</c>, <c>SHUTDOWN</c>).</summary>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp);

/// <summary>The answer to one command: the <c>return</c> value, or the error QEMU reported.</summary>
public sealed record QmpResult(JsonElement Return, QmpError? Error)
{
    public bool Succeeded => Error is null;
}

/// <summary>
/// A client of the QEMU Machine Protocol on a unix socket: JSON objects, one per line. After the
/// greeting the client must send <c>qmp_capabilities</c> before any other command. Commands carry
/// an <c>id</c> that QEMU echoes, so answers are matched to requests while events arrive in between.
/// Losing the connection (QEMU exited) fails pending commands with <see cref="IOException"/>.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    private const int MaxEvents = 256;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<QmpResult>> _pending = new();
    private readonly List<QmpEvent> _events = [];
    private readonly Lock _eventsLock = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource<JsonElement> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;
    private long _nextId;
    private TaskCompletionSource _eventArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private QmpClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    /// <summary>Completes when the connection closes (QEMU exited, or the client was disposed).</summary>
    public Task Closed => _readLoop;

    /// <summary>The QEMU version from the greeting, for example <c>7.2.0</c>.</summary>
    public string Version { get; private set; } = "";

    /// <summary>Connects, reads the greeting and negotiates capabilities.</summary>
    public static async Task<QmpClient> ConnectAsync(string socketPath, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var client = new QmpClient(socket);
        try
        {
            client._readLoop = Task.Run(client.ReadLoopAsync, CancellationToken.None);
            var greeting = await client._greeting.Task.WaitAsync(cancellationToken);
            var qemu = greeting.GetProperty("QMP").GetProperty("version").GetProperty("qemu");
            client.Version = $"{qemu.GetProperty("major")}.{qemu.GetProperty("minor")}.{qemu.GetProperty("micro")}";
            var capabilities = await client.ExecuteAsync("qmp_capabilities", null, cancellationToken);
            if (!capabilities.Succeeded)
            {
                throw new IOException($"QMP capabilities negotiation failed: {capabilities.Error!.Description}");
            }
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs one command and returns its <c>return</c> value or the error QEMU reported.</summary>
    public async Task<QmpResult> ExecuteAsync(string command, JsonObject? arguments, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextId);
        var request = new JsonObject { ["execute"] = command, ["id"] = id };
        if (arguments is not null)
        {
            request["arguments"] = arguments.DeepClone();
        }

        var answer = new TaskCompletionSource<QmpResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        if (_readLoop.IsCompleted)
        {
            _pending.TryRemove(id, out _);
            throw new IOException("The QMP connection is closed.");
        }

        try
        {
            var line = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await _stream.WriteAsync(line, cancellationToken);
            }
            finally
            {
                _writeLock.Release();
            }
            return await answer.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Every event received so far, oldest first.</summary>
    public IReadOnlyList<QmpEvent> Events
    {
        get
        {
            lock (_eventsLock)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Waits until an event of the given name has been received (including one received earlier).</summary>
    public async Task<QmpEvent> WaitForEventAsync(string name, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task arrived;
            lock (_eventsLock)
            {
                var found = _events.FirstOrDefault(e => e.Name == name);
                if (found is not null)
                {
                    return found;
                }
                arrived = _eventArrived.Task;
            }
            if (_readLoop.IsCompleted)
            {
                throw new IOException($"The QMP connection closed before event {name}.");
            }
            await Task.WhenAny(arrived, _readLoop).WaitAsync(cancellationToken);
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception failure = new IOException("The QMP connection closed.");
        try
        {
            while (await _reader.ReadLineAsync(_closing.Token) is { } line)
            {
                if (line.Length > 0)
                {
                    Dispatch(line);
                }
            }
        }
        catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            failure = new IOException("The QMP connection closed.", exception);
        }
        finally
        {
            _greeting.TrySetException(failure);
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(failure);
            }
            lock (_eventsLock)
            {
                _eventArrived.TrySetResult();
            }
        }
    }

    private void Dispatch(string line)
    {
        using var document = JsonDocument.Parse(line);
        var message = document.RootElement.Clone();
        if (message.TryGetProperty("QMP", out _))
        {
            _greeting.TrySetResult(message);
        }
        else if (message.TryGetProperty("event", out var name))
        {
            var timestamp = message.TryGetProperty("timestamp", out var t)
                ? DateTimeOffset.FromUnixTimeSeconds(t.GetProperty("seconds").GetInt64())
                    .AddTicks(t.GetProperty("microseconds").GetInt64() * 10)
                : default;
            var data = message.TryGetProperty("data", out var d) ? d : default;
            lock (_eventsLock)
            {
                _events.Add(new QmpEvent(name.GetString()!, data, timestamp));
                // A machine may run for months: keep the recent events only.
                if (_events.Count > MaxEvents)
                {
                    _events.RemoveRange(0, _events.Count - MaxEvents);
                }
                var arrived = _eventArrived;
                _eventArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                arrived.TrySetResult();
            }
        }
        else if (message.TryGetProperty("id", out var idElement)
            && idElement.TryGetInt64(out var id)
            && _pending.TryGetValue(id, out var answer))
        {
            if (message.TryGetProperty("error", out var error))
            {
                answer.TrySetResult(new QmpResult(default, new QmpError(
                    error.GetProperty("class").GetString() ?? "",
                    error.TryGetProperty("desc", out var desc) ? desc.GetString() ?? "" : "")));
            }
            else
            {
                answer.TrySetResult(new QmpResult(message.GetProperty("return"), null));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already disconnected: QEMU exited.
        }
        _socket.Dispose();
        await _readLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _reader.Dispose();
        await _stream.DisposeAsync();
        _writeLock.Dispose();
        _closing.Dispose();
    }
}
