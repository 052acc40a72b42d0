using Welkin.Core.Common;

namespace Welkin.Core.Compute;

/// <summary>
/// The machines of one driver and the rules every driver keeps around them: one operation at a
/// time on a machine, refused once the machine is gone; a create that is idempotent on the
/// machine id; destroying a missing machine succeeds.
/// </summary>
/// <typeparam name="TMachine">The driver's own record of a machine (a QEMU process and its files, a simulated console, a peer cloud's machine).</typeparam>
/// <remarks>
/// How a driver uses it: create with <see cref="CreateAsync"/>, giving an admit step (checks and
/// reservations, run under <see cref="Gate"/>, returning the new machine for the table to hold)
/// and a build step (run holding the machine, returning it ready); run every other operation on
/// a machine through <see cref="OperateAsync{T}"/> and destroy through <see cref="DestroyAsync"/>.
/// The table never drops a machine by itself: a build that fails or is cancelled and leaves
/// nothing behind, and a destroy, call <see cref="Remove"/>, and a create retried after that
/// builds the machine anew. <see cref="Gate"/> guards the map and is never held while anything
/// is awaited; a driver that guards its machines' fields with the same lock (pass it in) sees
/// them and the map change together. Reading a machine (inspect, console) takes no operation
/// lock, so it never waits.
/// </remarks>
public sealed class MachineTable<TMachine> where TMachine : class
{
    private readonly Dictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly Func<TMachine, MachineSpec> _specOf;
    private readonly Func<TMachine, DriverMachine> _describe;
    private readonly Func<TMachine, Error?>? _refuse;
    private readonly CancellationToken _stopping;

    /// <param name="specOf">The spec a machine was created with (its id, and what a repeated create must match).</param>
    /// <param name="describe">The machine as the driver reports it; called holding <see cref="Gate"/>.</param>
    /// <param name="gate">The lock guarding the map; a new one when null.</param>
    /// <param name="refuse">Why no operation may run on the machine now (its host failed), or null; called holding <see cref="Gate"/>.</param>
    /// <param name="stopping">Cancelled when the driver shuts down: waits for a machine end then.</param>
    public MachineTable(
        Func<TMachine, MachineSpec> specOf, Func<TMachine, DriverMachine> describe, Lock? gate = null, Func<TMachine, Error?>? refuse = null,
        CancellationToken stopping = default)
    {
        ArgumentNullException.ThrowIfNull(specOf);
        ArgumentNullException.ThrowIfNull(describe);
        _specOf = specOf;
        _describe = describe;
        _refuse = refuse;
        _stopping = stopping;
        Gate = gate ?? new Lock();
    }

    public Lock Gate { get; }

    /// <summary>The machines in the table: a live view, to be read holding <see cref="Gate"/>.</summary>
    public IEnumerable<TMachine> Machines
    {
        get
        {
            if (!Gate.IsHeldByCurrentThread)
            {
                throw new InvalidOperationException("Read the machines holding the table's gate, or take a Snapshot().");
            }
            return _slots.Values.Select(s => s.Machine);
        }
    }

    /// <summary>A copy of the machines in the table now.</summary>
    public IReadOnlyList<TMachine> Snapshot()
    {
        lock (Gate)
        {
            return [.. _slots.Values.Select(s => s.Machine)];
        }
    }

    public TMachine? Find(string machineId)
    {
        lock (Gate)
        {
            return _slots.GetValueOrDefault(machineId)?.Machine;
        }
    }

    /// <summary>The machine as the driver reports it, or null when the table has no such machine.</summary>
    public DriverMachine? Describe(string machineId)
    {
        lock (Gate)
        {
            return _slots.TryGetValue(machineId, out var slot) ? _describe(slot.Machine) : null;
        }
    }

    /// <summary>Whether <paramref name="machine"/> is still the table's machine of its id (not removed, not replaced by a new create).</summary>
    public bool IsCurrent(TMachine machine)
    {
        lock (Gate)
        {
            return _slots.TryGetValue(IdOf(machine), out var slot) && ReferenceEquals(slot.Machine, machine);
        }
    }

    /// <summary>Drops the machine when it is still current; operations waiting for it then answer <c>machine-not-found</c>.</summary>
    public bool Remove(TMachine machine)
    {
        lock (Gate)
        {
            return _slots.TryGetValue(IdOf(machine), out var slot) && ReferenceEquals(slot.Machine, machine) && _slots.Remove(IdOf(machine));
        }
    }

    /// <summary>Adds a machine the driver rebuilt (after Welkin restarted); false when the table has one with its id.</summary>
    public bool TryAdd(TMachine machine)
    {
        lock (Gate)
        {
            return _slots.TryAdd(IdOf(machine), new Slot(machine));
        }
    }

    /// <summary>
    /// Adds a machine the driver rebuilt and is still bringing back (re-attaching, finishing a
    /// create): operations on it, and a create repeated meanwhile, wait until the hold is disposed.
    /// Null when the table has a machine with its id.
    /// </summary>
    public IDisposable? TryAddHeld(TMachine machine)
    {
        lock (Gate)
        {
            var slot = new Slot(machine);
            if (!_slots.TryAdd(IdOf(machine), slot))
            {
                return null;
            }
            slot.Ops.Wait(0, CancellationToken.None);
            return new Hold(slot.Ops);
        }
    }

    /// <summary>
    /// Creates a machine once. The first create runs <paramref name="admit"/> under the gate
    /// (an error refuses the create) and then <paramref name="build"/> holding the new machine. The
    /// same create again waits for the first one and answers with the machine as it then is; a
    /// create with a different spec is <c>invalid-state</c>; when the first create was cancelled or
    /// the machine destroyed meanwhile (it is no longer in the table), the create starts again.
    /// </summary>
    public async Task<Result<DriverMachine>> CreateAsync(
        MachineSpec spec, Func<Result<TMachine>> admit, Func<TMachine, Task<Result<DriverMachine>>> build, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(admit);
        ArgumentNullException.ThrowIfNull(build);
        while (true)
        {
            Slot? existing;
            Slot? admitted = null;
            lock (Gate)
            {
                if (!_slots.TryGetValue(spec.MachineId, out existing))
                {
                    var made = admit();
                    if (!made.IsSuccess)
                    {
                        return made.Error!;
                    }
                    if (IdOf(made.Value) != spec.MachineId)
                    {
                        throw new InvalidOperationException($"The admit step made machine '{IdOf(made.Value)}' for '{spec.MachineId}'.");
                    }
                    admitted = new Slot(made.Value);
                    admitted.Ops.Wait(0, CancellationToken.None);
                    _slots.Add(spec.MachineId, admitted);
                }
                else if (!_specOf(existing.Machine).DescribesSameMachine(spec))
                {
                    return DriverErrors.InvalidState(spec.MachineId, _describe(existing.Machine).State, "be created again with a different specification");
                }
            }
            if (admitted is not null)
            {
                try
                {
                    return await build(admitted.Machine);
                }
                finally
                {
                    admitted.Ops.Release();
                }
            }
            await WaitAsync(existing!, ct);
            try
            {
                lock (Gate)
                {
                    if (IsCurrent(existing!))
                    {
                        progress?.Report(100);
                        return _describe(existing!.Machine);
                    }
                }
            }
            finally
            {
                existing!.Ops.Release();
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="operation"/> holding the machine, after every operation on it before;
    /// <c>machine-not-found</c> when there is no such machine or it was removed while this waited,
    /// and the driver's refusal when it has one.
    /// </summary>
    public async Task<Result<T>> OperateAsync<T>(string machineId, Func<TMachine, Task<Result<T>>> operation, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(operation);
        Slot? slot;
        lock (Gate)
        {
            slot = _slots.GetValueOrDefault(machineId);
        }
        if (slot is null)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        await WaitAsync(slot, ct);
        try
        {
            lock (Gate)
            {
                if (!IsCurrent(slot))
                {
                    return DriverErrors.MachineNotFound(machineId);
                }
                if (_refuse?.Invoke(slot.Machine) is { } refused)
                {
                    return refused;
                }
            }
            return await operation(slot.Machine);
        }
        finally
        {
            slot.Ops.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="destroy"/> holding the machine (it calls <see cref="Remove"/> once the
    /// machine is gone). A machine the table does not have, or that went while this waited, is
    /// destroyed already: that succeeds. The driver's refusal does not apply: a machine on a failed
    /// host can still be destroyed.
    /// </summary>
    public async Task<Result<bool>> DestroyAsync(string machineId, Func<TMachine, Task<Result<bool>>> destroy, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(destroy);
        Slot? slot;
        lock (Gate)
        {
            slot = _slots.GetValueOrDefault(machineId);
        }
        if (slot is null)
        {
            return true;
        }
        await WaitAsync(slot, ct);
        try
        {
            lock (Gate)
            {
                if (!IsCurrent(slot))
                {
                    return true;
                }
            }
            return await destroy(slot.Machine);
        }
        finally
        {
            slot.Ops.Release();
        }
    }

    private string IdOf(TMachine machine) => _specOf(machine).MachineId;

    private bool IsCurrent(Slot slot) => _slots.TryGetValue(IdOf(slot.Machine), out var current) && ReferenceEquals(current, slot);

    private async Task WaitAsync(Slot slot, CancellationToken ct)
    {
        if (!_stopping.CanBeCanceled)
        {
            await slot.Ops.WaitAsync(ct);
            return;
        }
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping);
        await slot.Ops.WaitAsync(waiting.Token);
    }

    private sealed class Slot(TMachine machine)
    {
        public TMachine Machine { get; } = machine;

        /// <summary>Held by the one operation running on the machine.</summary>
        public SemaphoreSlim Ops { get; } = new(1, 1);
    }

    private sealed class Hold(SemaphoreSlim ops) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                ops.Release();
            }
        }
    }
}
