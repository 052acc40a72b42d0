using System.Collections.Concurrent;
using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

public sealed class IncomingMachineOptions
{
    /// <summary>How long a prepared incoming machine waits for its source to complete or abort the move before it is removed.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// The provider's side of a live move between clouds: a peer cloud (a caller of kind cloud, on the federation
/// listener) has this cloud receive one of its running machines. The machine is accepted as a provision of the
/// agreement's contract line (the line's and the account's units drawn, capacity taken) on a host whose driver
/// receives live moves, recorded <c>provisioning</c> (not billed) with a <c>machine.incoming</c> job, and prepared
/// there with this cloud's federation certificate, accepting only the caller's certificate's subject. Completing
/// runs it: it is running, and billed, from that instant. Aborting removes it and gives everything back. The job
/// removes a machine whose move never completes (after <see cref="IncomingMachineOptions.Timeout"/>, or at once when
/// this cloud restarted meanwhile: the source's streams were cut).
/// </summary>
public sealed class IncomingMachines(
    ServiceManager manager, MachineLifecycle lifecycle, ComputeFabric fabric, IMigrationCredentials credentials, AuditLog audit, JobQueue jobs)
{
    public const string Action = "machine.incoming";

    private const int MaxHypervisorSettings = 32;

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    /// <summary>
    /// Accepts and prepares an incoming machine; <paramref name="peerSubject"/> is the subject of the caller's TLS
    /// client certificate, the only one the machine's streams accept.
    /// </summary>
    public async Task<Result<IncomingMachineView>> PrepareAsync(
        Caller caller, string? peerSubject, IncomingMachineRequest request, IdempotentWrite<IncomingMachineView>? once, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (CheckCloud(caller, peerSubject) is { } denied)
        {
            return denied;
        }
        if (Validate(request) is { } invalid)
        {
            return invalid;
        }
        var hosts = fabric.Pools.Where(p => p.Driver is ILiveMigrationTarget and not IPeerPool).SelectMany(p => p.Hosts).Select(h => h.Name).ToHashSet(StringComparer.Ordinal);
        if (hosts.Count == 0)
        {
            return DriverErrors.Unsupported("receiving machines live (no pool of this cloud takes them)");
        }
        var tls = credentials.For(peerSubject);
        if (!tls.IsSuccess)
        {
            return tls.Error!;
        }
        var choice = new VirtualSystemChoice(request.VirtualSystem, 1, request.Vcpus, request.MemoryMiB, request.DiskGiB, request.OperatingSystem);
        var provision = new ProvisionRequest(request.ContractId, request.Name, request.Item, [choice]);
        var accepted = await manager.ProvisionAsync(caller, provision, null, Action, hosts, ct);
        if (!accepted.IsSuccess)
        {
            return accepted.Error!;
        }
        var machineId = accepted.Value.Resource.Machines[0];
        using var gate = await HoldAsync(machineId, ct);
        var m = (await lifecycle.LoadAsync(machineId, ct))!;
        var prepared = await PrepareOnFabricAsync(m, request, tls.Value, ct);
        if (!prepared.IsSuccess)
        {
            await RemoveAsync(caller, m, ct);
            return prepared.Error!;
        }
        var p = prepared.Value;
        var view = new IncomingMachineView(m.Id, m.InstanceId, MachineState.Provisioning, p.Address, p.DiskPort, p.MigrationPort, p.Exports);
        var recorded = await lifecycle.Db.WriteAsync<IncomingMachineView>(async tx =>
        {
            await audit.AppendAsync(tx, caller, new AuditEvent(Action, m.Id, AuditEvent.Success, m.AccountId,
                $"prepared; instance={m.InstanceId}; host={m.Host}; peer={peerSubject}; job={accepted.Value.Job.Id}"));
            return once is not null && await once.RecordAsync(tx, view) is { } taken ? taken : view;
        }, ct);
        if (!recorded.IsSuccess)
        {
            await RemoveAsync(caller, m, ct);
        }
        return recorded;
    }

    private async Task<Result<IncomingMachine>> PrepareOnFabricAsync(MachineRow m, IncomingMachineRequest request, MigrationTls tls, CancellationToken ct)
    {
        if (lifecycle.DriverOf(m) is not { IsSuccess: true, Value: ILiveMigrationTarget target })
        {
            return DriverErrors.Unsupported("receiving machines live in pool " + m.Pool);
        }
        var disks = request.Disks.Select(d => new MigrationDisk(d.Id, d.VirtualSizeBytes)).ToList();
        var hypervisor = new Dictionary<string, string>(request.Hypervisor ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        return await target.PrepareIncomingAsync(new OutgoingMachine(MachineStore.SpecOf(m), disks, request.Running, hypervisor), m.Host!, tls, ct);
    }

    /// <summary>Runs an incoming machine whose disks and state have arrived: running (machine.activated, billed) from now. Repeating it answers the machine.</summary>
    public async Task<Result<MachineView>> CompleteAsync(Caller caller, string? peerSubject, string id, CancellationToken ct)
    {
        var found = await FindAsync(caller, peerSubject, id, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var job = found.Value.Job;
        using var gate = await HoldAsync(id, ct);
        var m = await lifecycle.LoadAsync(id, ct);
        if (m is not null && (m.State == MachineStore.Running || m.State == MachineStore.Paused))
        {
            return MachineStore.ToView(m);
        }
        if (m is null || m.State != MachineStore.Provisioning)
        {
            return Error.InvalidState($"Machine '{id}' is {m?.State ?? "gone"}; only a machine still arriving can be completed.");
        }
        if (lifecycle.DriverOf(m) is not { IsSuccess: true, Value: ILiveMigrationTarget target })
        {
            return DriverErrors.Unsupported("receiving machines live in pool " + m.Pool);
        }
        var resumed = await target.ResumeIncomingAsync(id, ct);
        if (!resumed.IsSuccess)
        {
            return resumed.Error!;
        }
        var d = resumed.Value;
        var access = new StoredAccess(d.Addresses, d.Endpoints, MachineLifecycle.DefaultUser, null);
        var to = MachineLifecycle.StateOf(d.State) ?? MachineState.Running;
        var done = await lifecycle.Db.WriteAsync<MachineRow?>(async tx =>
        {
            var row = await MachineStore.TransitionAsync(tx, lifecycle.Events, caller, m, to, lifecycle.Now, access: access);
            if (row is not null)
            {
                await audit.AppendAsync(tx, caller, new AuditEvent(Action, id, AuditEvent.Success, m.AccountId, "completed; " + row.State));
                // The instance is free for its owner's next operation from this instant, not from the job's next look.
                await FinishJobAsync(tx, job, $"{id} arrived");
            }
            return row;
        }, ct);
        return done.Value is { } now ? MachineStore.ToView(now) : Error.Concurrency("Machine", id);
    }

    /// <summary>Removes an incoming machine that will not come: nothing stays, its units and capacity go back, nothing was billed. Repeating it answers the machine.</summary>
    public async Task<Result<MachineView>> AbortAsync(Caller caller, string? peerSubject, string id, CancellationToken ct)
    {
        var found = await FindAsync(caller, peerSubject, id, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var job = found.Value.Job;
        using var gate = await HoldAsync(id, ct);
        var m = await lifecycle.LoadAsync(id, ct);
        if (m is not null && m.State != MachineStore.Provisioning && m.State != MachineStore.Terminating && m.State != MachineStore.Terminated)
        {
            return Error.InvalidState($"Machine '{id}' is {m.State}: it has arrived; terminate its instance to remove it.");
        }
        if (m is not null && await RemoveAsync(caller, m, ct) is { IsSuccess: false } removed)
        {
            return removed.Error!;
        }
        await lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            await audit.AppendAsync(tx, caller, new AuditEvent(Action, id, AuditEvent.Success, m?.AccountId, "aborted"));
            await FinishJobAsync(tx, job, $"{id} did not arrive; nothing of it is kept");
            return true;
        }, ct);
        var now = await lifecycle.LoadAsync(id, ct);
        return now is null ? Error.NotFound("Machine", id) : MachineStore.ToView(now);
    }

    /// <summary>The job's end of an incoming machine that will not arrive: removed, unless it arrived or was removed meanwhile.</summary>
    internal async Task<Result<MachineRow?>> ExpireAsync(Caller caller, string id, CancellationToken ct)
    {
        using var gate = await HoldAsync(id, ct);
        var m = await lifecycle.LoadAsync(id, ct);
        return m is { State: var s } && s == MachineStore.Provisioning ? await RemoveAsync(caller, m, ct) : m;
    }

    /// <summary>Aborts the prepared machine on its driver and destroys it (machine.released, units and capacity back).</summary>
    private async Task<Result<MachineRow?>> RemoveAsync(Caller caller, MachineRow m, CancellationToken ct)
    {
        if (lifecycle.DriverOf(m) is { IsSuccess: true, Value: ILiveMigrationTarget target })
        {
            var aborted = await target.AbortIncomingAsync(m.Id, ct);
            if (!aborted.IsSuccess)
            {
                return aborted.Error!;
            }
        }
        return await lifecycle.DestroyAsync(caller, m.Id, ct);
    }

    /// <summary>Ends the machine's machine.incoming job unless its handler has already.</summary>
    internal static async Task FinishJobAsync(Tx tx, JobQueue queue, string jobId, string message)
    {
        if (!await JobQueue.IsFinishedAsync(tx, jobId))
        {
            await queue.SucceedAsync(tx, jobId, null, message);
        }
    }

    private Task FinishJobAsync(Tx tx, JobView job, string message) => FinishJobAsync(tx, jobs, job.Id, message);

    /// <summary>An incoming machine of the caller's account, and its machine.incoming job.</summary>
    private async Task<Result<(MachineRow Machine, JobView Job)>> FindAsync(Caller caller, string? peerSubject, string id, CancellationToken ct)
    {
        if ((CheckCloud(caller, peerSubject) ?? Filters.Id(id, Ids.Machine, "machine")) is { } denied)
        {
            return denied;
        }
        var m = await lifecycle.LoadAsync(id, ct);
        if (m is null || m.AccountId != caller.AccountId)
        {
            return Error.NotFound("Machine", id);
        }
        var incoming = await jobs.ListAsync(Caller.System(caller.CorrelationId), new JobListQuery(Target: m.InstanceId, Action: Action, Limit: 1), ct);
        return incoming is { IsSuccess: true, Value.Items: [var job, ..] } ? (m, job) : Error.NotFound("Machine", id);
    }

    private static Error? CheckCloud(Caller caller, string? peerSubject) =>
        caller.Roles.Contains(Role.Cloud) && caller.CertificateSha256 is not null && caller.AccountId is not null && !string.IsNullOrEmpty(peerSubject)
            ? null
            : Error.Forbidden("Only a peer cloud, under its agreement's credential on the federation listener, moves machines here live.");

    private static Error? Validate(IncomingMachineRequest r)
    {
        var v = new Validator();
        v.Require(!string.IsNullOrWhiteSpace(r.VirtualSystem) && r.VirtualSystem.Length <= 100, "virtualSystem", "virtualSystem must name a virtual system (1-100 characters)");
        v.Require(r.Vcpus is >= 1 and <= 1024, "vcpus", "vcpus must be 1-1024");
        v.Require(r.MemoryMiB is >= 1 and <= 16L << 20, "memoryMiB", "memoryMiB must be 1-16777216");
        v.Require(r.DiskGiB is >= 1 and <= 1L << 20, "diskGiB", "diskGiB must be 1-1048576");
        // A machine moves between clouds with its system disk only: this cloud's volumes do not travel (the source refuses machines with any).
        v.Require(r.Disks is [{ Id: "root" } root] && root.VirtualSizeBytes > 0 && root.VirtualSizeBytes <= r.DiskGiB * (1L << 30), "disks",
            "disks must be the one system disk (id root) of a size within diskGiB");
        var settings = r.Hypervisor ?? new Dictionary<string, string>();
        v.Require(settings.Count <= MaxHypervisorSettings && settings.All(s => IsSetting(s.Key) && s.Value is { Length: <= 200 } && s.Value.All(c => c is >= ' ' and <= '~')),
            "hypervisor", $"hypervisor holds at most {MaxHypervisorSettings.ToString(CultureInfo.InvariantCulture)} settings: names of a-z, 0-9, '.', '-', '_' (1-64), printable values of at most 200 characters");
        return v.ToError();
    }

    private static bool IsSetting(string key) => key.Length is >= 1 and <= 64 && key.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_');

    private async Task<IDisposable> HoldAsync(string id, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        return new Release(gate);
    }

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}

/// <summary>
/// machine.incoming: waits while the peer cloud moves the machine here; one not completed or aborted within the
/// timeout, or still arriving when this cloud restarted (the attempt is not the first), is removed.
/// </summary>
public sealed class IncomingJobHandler(IncomingMachines incoming, MachineLifecycle lifecycle, IncomingMachineOptions options, TimeProvider clock) : IJobHandler
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    public string Action => IncomingMachines.Action;

    public async Task RunAsync(JobContext context, CancellationToken ct)
    {
        var request = System.Text.Json.JsonSerializer.Deserialize<MachinesJob>(context.Job.Request!, WelkinJson.Client)!;
        var id = request.Create[0];
        var deadline = clock.GetUtcNow() + options.Timeout;
        var m = await lifecycle.LoadAsync(id, ct);
        while (context.Job.Attempts == 1 && m?.State == MachineStore.Provisioning && clock.GetUtcNow() < deadline)
        {
            await Task.Delay(Poll, clock, ct);
            m = await lifecycle.LoadAsync(id, ct);
        }
        Error? error = null;
        if (m?.State == MachineStore.Provisioning)
        {
            var removed = await incoming.ExpireAsync(context.Caller, id, ct);
            var why = context.Job.Attempts == 1 ? $"did not arrive within {options.Timeout}" : "was still arriving when this cloud restarted";
            error = new Error("move-incomplete", ErrorKind.Conflict,
                $"Machine '{id}' {why}; " + (removed.IsSuccess ? "it was removed." : "removing it failed: " + removed.Error!.Detail));
        }
        var arrived = m?.State is { } s && s != MachineStore.Provisioning && s != MachineStore.Terminating && s != MachineStore.Terminated;
        await lifecycle.Db.WriteAsync<bool>(async tx =>
        {
            if (error is not null)
            {
                await context.Queue.FailAsync(tx, context.Job.Id, error);
            }
            else
            {
                await IncomingMachines.FinishJobAsync(tx, context.Queue, context.Job.Id, arrived ? $"{id} arrived" : $"{id} did not arrive; nothing of it is kept");
            }
            return true;
        }, ct);
    }
}
