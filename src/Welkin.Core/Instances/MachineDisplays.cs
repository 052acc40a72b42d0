using System.Collections.Concurrent;
using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>The bounds of machine consoles (section <c>Console</c>).</summary>
public sealed class ConsoleOptions
{
    /// <summary>A console on which nothing passed either way for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>At most this many consoles are open on one machine at once.</summary>
    public int MaxPerMachine { get; set; } = 4;
}

/// <summary>
/// The graphical consoles of machines: a person who may act on a machine (start, stop: the
/// <c>resources:configure</c> permission, since a console can type) opens its display as a byte stream,
/// which the API relays over a WebSocket. Another account's machine answers as one that does not
/// exist; a machine without a display, or not running, is refused; each machine has at most
/// <see cref="ConsoleOptions.MaxPerMachine"/> consoles open at once. Opening one is audited
/// (<see cref="Action"/>) as the person.
/// </summary>
public sealed class MachineDisplays(IDatabase db, AuditLog audit, ServiceManager manager, ComputeFabric fabric, ConsoleOptions options)
{
    public const string Action = "machine.console-open";

    private readonly ConcurrentDictionary<string, int> _open = new(StringComparer.Ordinal);

    public ConsoleOptions Options => options;

    /// <summary>How many consoles are open on the machine now.</summary>
    public int OpenOn(string machineId) => _open.TryGetValue(machineId, out var n) ? n : 0;

    /// <summary>
    /// The machine and its driver's displays, when the caller may open its console: every check but the display's
    /// own (permission, existence and tenancy, state, a fabric with displays). A plain GET answers these too.
    /// </summary>
    public async Task<Result<(MachineView Machine, IMachineDisplay Displays)>> CheckAsync(Caller caller, string id, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (ServiceManager.CheckChange(caller, id, Ids.Machine, "machine") is { } error)
        {
            return error;
        }
        var found = await manager.GetMachineAsync(caller, id, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var machine = found.Value;
        if (machine.State is not (MachineState.Running or MachineState.Paused))
        {
            return Error.InvalidState($"Machine '{id}' is {WireNames.Of(machine.State)}; its console opens while it runs.");
        }
        var driver = fabric.DriverOf(machine.Pool);
        if (!driver.IsSuccess)
        {
            return driver.Error!;
        }
        if (driver.Value is not IMachineDisplay displays || machine.Access?.Endpoints.Any(e => e.Protocol == "vnc") == false)
        {
            return DriverErrors.NoDisplay(id);
        }
        return OpenOn(id) >= options.MaxPerMachine ? TooMany(id) : (machine, displays);
    }

    /// <summary>Opens the machine's display; dispose the session to close it.</summary>
    public async Task<Result<DisplaySession>> OpenAsync(Caller caller, string id, CancellationToken ct)
    {
        var checkedOut = await CheckAsync(caller, id, ct);
        if (!checkedOut.IsSuccess)
        {
            return checkedOut.Error!;
        }
        var (machine, displays) = checkedOut.Value;
        if (!Reserve(id))
        {
            return TooMany(id);
        }
        try
        {
            var stream = await displays.OpenDisplayAsync(id, ct);
            if (!stream.IsSuccess)
            {
                Release(id);
                return stream.Error!;
            }
            await audit.AppendAsync(db, caller, new AuditEvent(Action, id, AuditEvent.Success, machine.AccountId, "vnc"), ct);
            return new DisplaySession(id, stream.Value, () => Release(id));
        }
        catch
        {
            Release(id);
            throw;
        }
    }

    private Error TooMany(string id) =>
        new("too-many-consoles", ErrorKind.Conflict, string.Create(CultureInfo.InvariantCulture,
            $"Machine '{id}' has {OpenOn(id)} consoles open, the most one machine may have at once ({options.MaxPerMachine}); close one and try again."));

    private bool Reserve(string id)
    {
        while (true)
        {
            var current = OpenOn(id);
            if (current >= options.MaxPerMachine)
            {
                return false;
            }
            if (current == 0 ? _open.TryAdd(id, 1) : _open.TryUpdate(id, current + 1, current))
            {
                return true;
            }
        }
    }

    private void Release(string id)
    {
        while (_open.TryGetValue(id, out var current))
        {
            if (current <= 1 ? _open.TryRemove(new KeyValuePair<string, int>(id, current)) : _open.TryUpdate(id, current - 1, current))
            {
                return;
            }
        }
    }
}

/// <summary>An open machine display: the RFB byte stream; disposing it closes the display and frees its place.</summary>
public sealed class DisplaySession(string machineId, Stream stream, Action release) : IAsyncDisposable
{
    private int _disposed;

    public string MachineId => machineId;

    public Stream Stream => stream;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await stream.DisposeAsync();
            release();
        }
    }
}
