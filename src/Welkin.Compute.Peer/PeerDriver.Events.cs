using System.Collections.Concurrent;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// What the peer does without being asked, and what the pool can take: one list of the peer's machines every
/// <see cref="PeerPoolOptions.PollInterval"/>, or at once after <see cref="Nudge"/> (a notification from the
/// peer, at most one poll per <see cref="MinNudgeInterval"/> however many arrive).
/// </summary>
public sealed partial class PeerDriver
{
    /// <summary>The shortest time between two polls a notification can cause: a flood of them costs no more.</summary>
    public static readonly TimeSpan MinNudgeInterval = TimeSpan.FromMilliseconds(500);

    private const int PageSize = 500;

    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _nudge = new(0, 1);
    private readonly Task _poller;
    private readonly ConcurrentDictionary<string, DriverMachine> _seen = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _busy = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _changes = new(StringComparer.Ordinal);
    private volatile PeerPoolStatus _status = PeerPoolStatus.Unavailable("not polled yet");
    private int _failures;
    private int _hostFailed;
    private int _pollDue;
    private long _lastPoll = long.MinValue;

    public PeerPoolStatus Status => _status;

    /// <summary>
    /// Makes the pool poll the peer at once (a notice said one of its machines changed), or, when it polled less than
    /// <see cref="MinNudgeInterval"/> ago, once that interval is over. Nudges while a poll is due are one poll: a
    /// flood of them costs no more, and none is lost. The notice carries nothing the poll believes: the peer's answer
    /// decides. Returns whether this nudge made a poll due (false: one already was).
    /// </summary>
    public void Refresh() => Nudge();

    public bool Nudge()
    {
        if (Interlocked.Exchange(ref _pollDue, 1) == 1)
        {
            return false;
        }
        try
        {
            _nudge.Release();
        }
        catch (SemaphoreFullException)
        {
        }
        return true;
    }

    /// <summary>One poll now: the peer's machines, its host's health and the pool's status.</summary>
    public async Task PollAsync(CancellationToken ct)
    {
        var link = await _links.GetAsync(Peer, ct);
        if (!link.IsSuccess)
        {
            _status = PeerPoolStatus.Unavailable(link.Error!.Detail);
            return;
        }
        if (!link.Value.Online)
        {
            _status = PeerPoolStatus.Unavailable($"Peer '{Peer}' is offline.");
            HostDown("the peer's presence is unavailable");
            return;
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return;
        }
        var client = connected.Value.Client;
        var rows = await _store.ListAsync(_pool, ct);
        var before = rows.ToDictionary(r => r.MachineId, r => _changes.GetValueOrDefault(r.MachineId), StringComparer.Ordinal);
        var listed = await CallAsync(_host.Name, () => ListAllAsync(client, ct), ct);
        if (!listed.IsSuccess)
        {
            _status = PeerPoolStatus.Unavailable($"Peer '{Peer}' does not answer.");
            return;
        }
        HostUp();
        var remote = listed.Value;
        foreach (var row in rows.Where(r => r.RemoteMachineId is not null))
        {
            if (_busy.ContainsKey(row.MachineId) || _changes.GetValueOrDefault(row.MachineId) != before[row.MachineId]
                || !remote.TryGetValue(row.RemoteMachineId!, out var view) || ToDriver(row, view) is not { } now)
            {
                continue;
            }
            Observe(now);
        }
        _status = await PeerStatus.ComputeAsync(client, connected.Value.Link, _options, ct);
    }

    private static async Task<Dictionary<string, MachineView>> ListAllAsync(WelkinClient client, CancellationToken ct)
    {
        var all = new Dictionary<string, MachineView>(StringComparer.Ordinal);
        string? after = null;
        do
        {
            var page = await client.Machines.ListAsync(after: after, limit: PageSize, ct: ct);
            foreach (var m in page.Items)
            {
                all[m.Id] = m;
            }
            after = page.Next;
        }
        while (after is not null);
        return all;
    }

    /// <summary>A state the poll saw: a machine that was running and is now in error crashed, one now stopped stopped by itself.</summary>
    private void Observe(DriverMachine now)
    {
        var was = _seen.TryGetValue(now.MachineId, out var last) ? last.State : (DriverMachineState?)null;
        _seen[now.MachineId] = now;
        if (was is not (DriverMachineState.Running or DriverMachineState.Paused) || was == now.State)
        {
            return;
        }
        var at = _clock.GetUtcNow();
        if (now.State == DriverMachineState.Error)
        {
            _events.Writer.TryWrite(new DriverEvent(DriverEvent.MachineCrashed, _host.Name, now.MachineId, "The machine failed on the peer cloud.", at));
        }
        else if (now.State == DriverMachineState.Stopped)
        {
            _events.Writer.TryWrite(new DriverEvent(DriverEvent.MachineStopped, _host.Name, now.MachineId, "The machine stopped by itself on the peer cloud.", at));
        }
    }

    private async Task PollLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (await _nudge.WaitAsync(_options.PollInterval, ct) && _lastPoll != long.MinValue
                    && _clock.GetElapsedTime(_lastPoll) is var since && since < MinNudgeInterval)
                {
                    await Task.Delay(MinNudgeInterval - since, _clock, ct);
                }
                // Cleared before the poll: a nudge during it makes the next one due.
                Interlocked.Exchange(ref _pollDue, 0);
                _lastPoll = _clock.GetTimestamp();
                await PollAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A poll that failed for a reason of its own (the database at shutdown) is the next poll's to repeat.
                _status = PeerPoolStatus.Unavailable("The last poll of the peer failed.");
            }
        }
    }

    private void Answered()
    {
        Interlocked.Exchange(ref _failures, 0);
        HostUp();
    }

    private void CallFailed()
    {
        if (Interlocked.Increment(ref _failures) >= _options.FailuresBeforeUnreachable)
        {
            HostDown("calls to the peer keep failing");
        }
    }

    private void HostDown(string why)
    {
        if (Interlocked.Exchange(ref _hostFailed, 1) == 0)
        {
            _events.Writer.TryWrite(new DriverEvent(DriverEvent.HostUnreachable, _host.Name, null, $"Peer cloud '{Peer}' is unreachable: {why}.", _clock.GetUtcNow()));
        }
    }

    private void HostUp()
    {
        if (Interlocked.Exchange(ref _hostFailed, 0) == 1)
        {
            _events.Writer.TryWrite(new DriverEvent(DriverEvent.HostReachable, _host.Name, null, $"Peer cloud '{Peer}' answers again.", _clock.GetUtcNow()));
        }
    }

    /// <summary>
    /// Holds the machine for one operation of this cloud: operations on a machine run one at a time, and a poll
    /// meanwhile raises no event for a change this cloud is making.
    /// </summary>
    private async Task<IDisposable> HoldAsync(string machineId, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(machineId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        _changes.AddOrUpdate(machineId, 1, (_, n) => n + 1);
        _busy[machineId] = 0;
        return new Hold(this, machineId, gate);
    }

    private sealed class Hold(PeerDriver driver, string machineId, SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                driver._changes.AddOrUpdate(machineId, 1, (_, n) => n + 1);
                driver._busy.TryRemove(machineId, out _);
                gate.Release();
            }
        }
    }

    /// <summary>The machine as an operation of this cloud left it: the state later polls compare with.</summary>
    private DriverMachine Seen(DriverMachine machine)
    {
        _seen[machine.MachineId] = machine;
        _changes.AddOrUpdate(machine.MachineId, 1, (_, n) => n + 1);
        return machine;
    }

    private DriverMachine? LastSeen(string machineId) => _seen.TryGetValue(machineId, out var machine) ? machine : null;

    private void Forget(string machineId)
    {
        _seen.TryRemove(machineId, out _);
        _changes.AddOrUpdate(machineId, 1, (_, n) => n + 1);
    }
}
