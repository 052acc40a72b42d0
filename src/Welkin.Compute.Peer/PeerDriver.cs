using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// The driver of a host pool served by a peer cloud: its one host is the peer, reached through
/// <see cref="WelkinClient"/> under the credential of this cloud's agreement in force with it
/// (<see cref="IPeerLinks"/>). A machine is a one-machine instance provisioned on the peer under the
/// agreement's contract, with the local machine id as its Idempotency-Key; every operation maps to the
/// peer's. The peer's own texts never reach a tenant: errors carry fixed sentences, the peer's account
/// travels in <see cref="Error.Cause"/>.
/// </summary>
public sealed partial class PeerDriver : IComputeDriver, IPeerPool, IPeerMachineImport, IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan JobPollFirst = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan JobPollMost = TimeSpan.FromMilliseconds(500);

    private readonly string _pool;
    private readonly PeerPoolOptions _options;
    private readonly IPeerLinks _links;
    private readonly PeerMachineStore _store;
    private readonly TimeProvider _clock;
    private readonly FabricHost _host;
    private readonly Channel<DriverEvent> _events = Channel.CreateUnbounded<DriverEvent>();
    private readonly ConcurrentDictionary<string, WelkinClient> _clients = new(StringComparer.Ordinal);
    private int _disposed;

    public PeerDriver(string pool, PeerPoolOptions options, IPeerLinks links, PeerMachineStore store, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Peer))
        {
            throw new ArgumentException($"Host pool '{pool}' of driver peer names no Peer (the peer cloud's federation name).", nameof(options));
        }
        _pool = pool;
        _options = options;
        _links = links;
        _store = store;
        _clock = clock;
        _host = new FabricHost(string.IsNullOrWhiteSpace(options.Host) ? pool : options.Host, options.Region, options.Jurisdiction, options.Cores, options.MemoryMiB, options.DiskGiB);
        Hosts = [_host];
        _poller = Task.Run(() => PollLoopAsync(_stop.Token));
    }

    public string Kind => "peer";

    public IReadOnlyList<FabricHost> Hosts { get; }

    public string Peer => _options.Peer;

    /// <remarks>
    /// Pause, and this cloud's volumes (kept on the peer; the peer attaches them to a running machine or at its next
    /// start, as its own fabric can). Not networks or configuration properties: this cloud's tenant networks do not
    /// extend into the peer, and a peer runs configuration properties of its own templates. Live moves between clouds
    /// are not a move inside the pool, and a peer's hosts cannot be failed from here.
    /// </remarks>
    public DriverCapabilities Capabilities => DriverCapabilities.Pause | DriverCapabilities.Volumes | DriverCapabilities.HotPlugVolumes;

    public ChannelReader<DriverEvent> Events => _events.Reader;

    // ---- create --------------------------------------------------------------------------------

    public async Task<Result<DriverMachine>> CreateAsync(MachineSpec spec, IProgress<int>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Host != _host.Name)
        {
            return DriverErrors.UnknownHost(spec.Host);
        }
        // A peer's provisioning API makes a machine of a size and an image; it has no way to ask for disks beyond its system disk.
        if (spec.DataDisks.Count > 0)
        {
            return DriverErrors.Unsupported("data disks on a peer's machines");
        }
        using var hold = await HoldAsync(spec.MachineId, ct);
        var existing = await _store.GetAsync(spec.MachineId, ct);
        if (existing is { IsDestroyed: false } && !existing.Describes(spec))
        {
            var state = (await InspectAsync(spec.MachineId, ct))?.State ?? DriverMachineState.Creating;
            return DriverErrors.InvalidState(spec.MachineId, state, "be created again with another size or image");
        }
        if (existing is { IsDestroyed: false, RemoteMachineId: not null } && await InspectAsync(spec.MachineId, ct) is { } known)
        {
            progress?.Report(100);
            return known;
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return connected.Error!;
        }
        var (link, client) = connected.Value;
        return await ProvisionAsync(spec, existing is { IsDestroyed: false } ? existing : null, link, client, progress, ct);
    }

    private async Task<Result<DriverMachine>> ProvisionAsync(
        MachineSpec spec, PeerMachineRow? row, PeerLink link, WelkinClient client, IProgress<int>? progress, CancellationToken ct, string? imageId = null)
    {
        progress?.Report(0);
        var request = await PeerItems.RequestForAsync(client, link, spec, imageId, ct);
        if (!request.IsSuccess)
        {
            return request.Error!;
        }
        row ??= await _store.BeginAsync(_pool, Peer, link.AgreementId, spec, ct);
        progress?.Report(5);
        var accepted = await CallAsync(spec.MachineId, () => client.Instances.ProvisionAsync(request.Value, row.IdempotencyKey, ct), ct);
        if (!accepted.IsSuccess)
        {
            return accepted.Error!;
        }
        row = await _store.CompleteAsync(row, accepted.Value.Resource.Id, null, ct);
        var job = await WaitAsync(spec.MachineId, client, accepted.Value.Job, progress, ct);
        if (!job.IsSuccess)
        {
            return job.Error!;
        }
        var instance = await CallAsync(spec.MachineId, () => client.Instances.GetAsync(row.RemoteInstanceId!, ct), ct);
        if (!instance.IsSuccess)
        {
            return instance.Error!;
        }
        if (instance.Value.Machines.Count == 0)
        {
            return DriverErrors.HypervisorFailed(spec.MachineId, HypervisorFailure.Launch, $"the peer's instance {instance.Value.Id} has no machine");
        }
        row = await _store.CompleteAsync(row, instance.Value.Id, instance.Value.Machines[0], ct);
        var machine = await RemoteAsync(row, client, ct);
        if (!machine.IsSuccess)
        {
            return machine.Error!;
        }
        progress?.Report(100);
        return Seen(machine.Value);
    }

    // ---- power ---------------------------------------------------------------------------------

    public Task<Result<DriverMachine>> StartAsync(string machineId, CancellationToken ct) =>
        ActAsync(machineId, "start", state => state switch
        {
            DriverMachineState.Running => Outcome.Done,
            DriverMachineState.Stopped or DriverMachineState.Error => Outcome.Act,
            _ => Outcome.Refuse,
        }, ct);

    /// <remarks>
    /// A peer stops only running or paused machines (its Change Manager's rule), so one in error is started and
    /// stopped at once by force: the only way its API offers to leave the machine stopped.
    /// </remarks>
    public Task<Result<DriverMachine>> StopAsync(string machineId, bool force, CancellationToken ct) =>
        ActAsync(machineId, "stop", state => state switch
        {
            DriverMachineState.Stopped => Outcome.Done,
            DriverMachineState.Creating => Outcome.Refuse,
            DriverMachineState.Error => Outcome.StartFirst,
            _ => Outcome.Act,
        }, ct, new MachineActionRequest(Force: force));

    public Task<Result<DriverMachine>> PauseAsync(string machineId, CancellationToken ct) =>
        ActAsync(machineId, "pause", state => state switch
        {
            DriverMachineState.Paused => Outcome.Done,
            DriverMachineState.Running => Outcome.Act,
            _ => Outcome.Refuse,
        }, ct);

    public Task<Result<DriverMachine>> ResumeAsync(string machineId, CancellationToken ct) =>
        ActAsync(machineId, "resume", state => state switch
        {
            DriverMachineState.Running => Outcome.Done,
            DriverMachineState.Paused => Outcome.Act,
            _ => Outcome.Refuse,
        }, ct);

    public Task<Result<DriverMachine>> RebootAsync(string machineId, CancellationToken ct) =>
        ActAsync(machineId, "reboot", state => state == DriverMachineState.Running ? Outcome.Act : Outcome.Refuse, ct);

    public async Task<Result<DriverMachine>> ResizeAsync(string machineId, int vcpus, long memoryMiB, CancellationToken ct)
    {
        using var hold = await HoldAsync(machineId, ct);
        var found = await FindAsync(machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (row, client, machine) = found.Value;
        if (machine.State != DriverMachineState.Stopped)
        {
            return DriverErrors.InvalidState(machineId, machine.State, "be resized while it is not stopped");
        }
        if (machine.Vcpus == vcpus && machine.MemoryMiB == memoryMiB)
        {
            return machine;
        }
        var accepted = await CallAsync(machineId, () => client.Machines.ResizeAsync(row.RemoteMachineId!, new ResizeRequest(vcpus, memoryMiB), ct), ct);
        var done = accepted.IsSuccess ? await WaitAsync(machineId, client, accepted.Value.Job, null, ct) : accepted.Error!;
        if (!done.IsSuccess)
        {
            return done.Error!;
        }
        row = await _store.ResizedAsync(row, vcpus, memoryMiB, ct);
        var after = await RemoteAsync(row, client, ct);
        return after.IsSuccess ? Seen(after.Value) : after;
    }

    /// <summary>The pool has one host: moving to it changes nothing; any other host is not the pool's.</summary>
    public async Task<Result<DriverMachine>> MigrateAsync(string machineId, string targetHost, IProgress<int>? progress, CancellationToken ct)
    {
        var found = await FindAsync(machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        if (targetHost != _host.Name)
        {
            return DriverErrors.UnknownHost(targetHost);
        }
        progress?.Report(100);
        return found.Value.Machine;
    }

    public async Task<Result<bool>> DestroyAsync(string machineId, CancellationToken ct)
    {
        using var hold = await HoldAsync(machineId, ct);
        var row = await _store.GetAsync(machineId, ct);
        if (row is null || row.IsDestroyed)
        {
            return true;
        }
        if (row.RemoteInstanceId is not null)
        {
            var connected = await ConnectAsync(ct);
            if (!connected.IsSuccess)
            {
                return connected.Error!;
            }
            var client = connected.Value.Client;
            var accepted = await CallAsync(machineId, () => client.Instances.TerminateAsync(row.RemoteInstanceId, null, ct), ct);
            if (!accepted.IsSuccess && accepted.Error!.Code != "machine-not-found")
            {
                return accepted.Error!;
            }
            if (accepted.IsSuccess)
            {
                var done = await WaitAsync(machineId, client, accepted.Value.Job, null, ct);
                if (!done.IsSuccess)
                {
                    return done.Error!;
                }
            }
        }
        await _store.DestroyedAsync(machineId, ct);
        Forget(machineId);
        return true;
    }

    public async Task<DriverMachine?> InspectAsync(string machineId, CancellationToken ct)
    {
        var row = await _store.GetAsync(machineId, ct);
        if (row is null || row.IsDestroyed)
        {
            return null;
        }
        if (row.RemoteMachineId is null)
        {
            return new DriverMachine(machineId, row.Host, DriverMachineState.Creating, (int)row.Vcpus, row.MemoryMiB, [], []);
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return LastSeen(machineId);
        }
        var machine = await RemoteAsync(row, connected.Value.Client, ct);
        return machine.IsSuccess ? machine.Value : machine.Error!.Code == "machine-not-found" ? null : LastSeen(machineId);
    }

    // ---- console, metrics ----------------------------------------------------------------------

    public async Task<Result<string>> ConsoleLogAsync(string machineId, int maxBytes, CancellationToken ct)
    {
        var found = await FindAsync(machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (row, client, _) = found.Value;
        var console = await CallAsync(machineId, () => client.Machines.ConsoleAsync(row.RemoteMachineId!, ct), ct);
        return console.IsSuccess ? Tail(console.Value, maxBytes) : console;
    }

    public async Task<Result<MachineMetrics>> MetricsAsync(string machineId, CancellationToken ct)
    {
        var found = await FindAsync(machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (row, client, _) = found.Value;
        var metrics = await CallAsync(machineId, () => client.Machines.MetricsAsync(row.RemoteMachineId!, ct), ct);
        if (!metrics.IsSuccess)
        {
            return metrics.Error!;
        }
        var m = metrics.Value;
        return new MachineMetrics(m.At, m.CpuUtilizationPercent, m.CpuTimeMs, m.MemoryUsedBytes, m.PageFaults, m.DiskReadBytes, m.DiskWriteBytes,
            m.NetworkRxBytes, m.NetworkTxBytes);
    }

    // ---- devices -------------------------------------------------------------------------------

    // Volumes: PeerDriver.Volumes.cs. A tenant network of this cloud does not extend into the peer, and the peer's
    // machines run its own templates' configuration: neither can be applied there.

    public Task<Result<bool>> ConnectNetworkAsync(string machineId, NetworkAttachment nic, CancellationToken ct) => UnsupportedAsync(machineId, "this cloud's networks on a peer's machines", ct);

    public Task<Result<bool>> DisconnectNetworkAsync(string machineId, string networkId, CancellationToken ct) => UnsupportedAsync(machineId, "this cloud's networks on a peer's machines", ct);

    public Task<Result<bool>> SetPropertiesAsync(string machineId, IReadOnlyDictionary<string, string> properties, CancellationToken ct) =>
        UnsupportedAsync(machineId, "configuration properties on a peer's machines", ct);

    public Task<Result<bool>> SetHostFailedAsync(string host, bool failed, CancellationToken ct) =>
        Task.FromResult<Result<bool>>(host == _host.Name ? DriverErrors.Unsupported("failing a peer cloud's host") : DriverErrors.UnknownHost(host));

    private async Task<Result<bool>> UnsupportedAsync(string machineId, string what, CancellationToken ct)
    {
        var row = await _store.GetAsync(machineId, ct);
        return row is null || row.IsDestroyed ? DriverErrors.MachineNotFound(machineId) : DriverErrors.Unsupported(what);
    }

    // ---- recovery ------------------------------------------------------------------------------

    /// <summary>
    /// From <c>peer_machines</c> and the peer's answer: a machine whose create did not complete is provisioned
    /// again under the same Idempotency-Key (so it is the same remote machine); one the peer no longer has is lost.
    /// </summary>
    public async Task<IReadOnlyList<DriverMachine>> RecoverAsync(IReadOnlyList<KnownMachine> known, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(known);
        var found = new List<DriverMachine>();
        var reached = (await ConnectAsync(ct)).IsSuccess;
        foreach (var k in known)
        {
            var row = await _store.GetAsync(k.Spec.MachineId, ct);
            if (row is null || row.IsDestroyed)
            {
                continue;
            }
            if (!reached && row.RemoteMachineId is not null)
            {
                // The peer cannot say: the machine is kept as last recorded, and the host is reported unreachable (its machines unknown).
                found.Add(new DriverMachine(k.Spec.MachineId, _host.Name, k.LastKnown, k.Spec.Vcpus, k.Spec.MemoryMiB, [], []));
                continue;
            }
            var machine = row.RemoteMachineId is null ? (await CreateAsync(k.Spec, null, ct)).Value : await InspectAsync(k.Spec.MachineId, ct);
            if (machine is not null)
            {
                found.Add(Seen(machine));
            }
        }
        if (!reached && found.Count > 0)
        {
            HostDown("it could not be reached when this cloud started");
        }
        // The cloud is starting: the pool's status is read now rather than a poll interval later.
        Nudge();
        return found;
    }

    // ---- plumbing ------------------------------------------------------------------------------

    private enum Outcome
    {
        Done,
        Act,
        Refuse,

        /// <summary>Act after starting the machine (the peer allows the action only from running).</summary>
        StartFirst,
    }

    private async Task<Result<DriverMachine>> ActAsync(
        string machineId, string action, Func<DriverMachineState, Outcome> decide, CancellationToken ct, MachineActionRequest? request = null)
    {
        using var hold = await HoldAsync(machineId, ct);
        // The peer's state can change between reading it and acting on it (its own monitor records a crash):
        // a refusal is decided again on the state the peer then has.
        for (var attempt = 1; ; attempt++)
        {
            var done = await ActOnceAsync(machineId, action, decide, request, ct);
            if (done.IsSuccess || done.Error!.Code != "invalid-state" || done.Error.Cause is null || attempt == 3)
            {
                return done;
            }
        }
    }

    private async Task<Result<DriverMachine>> ActOnceAsync(
        string machineId, string action, Func<DriverMachineState, Outcome> decide, MachineActionRequest? request, CancellationToken ct)
    {
        var found = await FindAsync(machineId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (row, client, machine) = found.Value;
        switch (decide(machine.State))
        {
            case Outcome.Done:
                return Seen(machine);
            case Outcome.Refuse:
                return DriverErrors.InvalidState(machineId, machine.State, action);
            case Outcome.StartFirst:
                var started = await CallAsync(machineId, () => client.Machines.ActAsync(row.RemoteMachineId!, "start", null, ct), ct, machine.State, action);
                var up = started.IsSuccess ? await WaitAsync(machineId, client, started.Value.Job, null, ct) : started.Error!;
                if (!up.IsSuccess)
                {
                    return up.Error!;
                }
                request = (request ?? new MachineActionRequest()) with { Force = true };
                break;
        }
        var accepted = await CallAsync(machineId, () => client.Machines.ActAsync(row.RemoteMachineId!, action, request, ct), ct, machine.State, action);
        var done = accepted.IsSuccess ? await WaitAsync(machineId, client, accepted.Value.Job, null, ct) : accepted.Error!;
        if (!done.IsSuccess)
        {
            return done.Error!;
        }
        var after = await RemoteAsync(row, client, ct);
        return after.IsSuccess ? Seen(after.Value) : after;
    }

    /// <summary>The machine's row, a client of its peer and its state there; <c>machine-not-found</c> when this pool has no such machine.</summary>
    private async Task<Result<(PeerMachineRow Row, WelkinClient Client, DriverMachine Machine)>> FindAsync(string machineId, CancellationToken ct)
    {
        var row = await _store.GetAsync(machineId, ct);
        if (row is null || row.IsDestroyed)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        if (row.RemoteMachineId is null)
        {
            return DriverErrors.InvalidState(machineId, DriverMachineState.Creating, "be changed while it is being created");
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return connected.Error!;
        }
        var machine = await RemoteAsync(row, connected.Value.Client, ct);
        return machine.IsSuccess ? (row, connected.Value.Client, machine.Value) : machine.Error!;
    }

    private async Task<Result<DriverMachine>> RemoteAsync(PeerMachineRow row, WelkinClient client, CancellationToken ct)
    {
        var view = await CallAsync(row.MachineId, () => client.Machines.GetAsync(row.RemoteMachineId!, ct), ct);
        if (!view.IsSuccess)
        {
            return view.Error!;
        }
        return ToDriver(row, view.Value) is { } machine ? machine : DriverErrors.MachineNotFound(row.MachineId);
    }

    /// <summary>The peer's machine as this cloud's driver reports it; null once the peer has terminated it.</summary>
    private DriverMachine? ToDriver(PeerMachineRow row, MachineView view)
    {
        DriverMachineState? state = view.State switch
        {
            MachineState.Provisioning => DriverMachineState.Creating,
            MachineState.Running or MachineState.Migrating => DriverMachineState.Running,
            MachineState.Paused => DriverMachineState.Paused,
            MachineState.Inactive => DriverMachineState.Stopped,
            MachineState.Error => DriverMachineState.Error,
            _ => null,
        };
        if (state is null)
        {
            return null;
        }
        return new DriverMachine(row.MachineId, _host.Name, state.Value, view.Vcpus, view.MemoryMiB, view.Access?.Addresses ?? [], view.Access?.Endpoints ?? [],
            state == DriverMachineState.Error ? "The machine failed on the peer cloud." : null);
    }

    /// <summary>The link to the peer and a client under its credential, or <c>host-unavailable</c> (the peer is not usable now).</summary>
    private async Task<Result<(PeerLink Link, WelkinClient Client)>> ConnectAsync(CancellationToken ct)
    {
        var link = await _links.GetAsync(Peer, ct);
        if (!link.IsSuccess)
        {
            return DriverErrors.HostUnavailable(_host.Name) with { Cause = link.Error!.Detail };
        }
        var l = link.Value;
        var client = _clients.GetOrAdd(l.AgreementId + " " + l.ApiUrl.AbsoluteUri + " " + l.Credential, _ => new WelkinClient(l.Http, l.ApiUrl, l.Credential));
        return (l, client);
    }

    /// <summary>
    /// One call to the peer with its failures as driver errors: a refused change is <c>invalid-state</c>, a machine
    /// the peer does not have is <c>machine-not-found</c>, an unreachable peer <c>host-unavailable</c>; the peer's
    /// problem text goes only into the cause.
    /// </summary>
    private async Task<Result<T>> CallAsync<T>(string machineId, Func<Task<T>> call, CancellationToken ct, DriverMachineState? state = null, string? action = null)
    {
        try
        {
            var answer = await call();
            Answered();
            return answer;
        }
        catch (WelkinApiException e)
        {
            Answered();
            var cause = $"{e.StatusCode} {e.Code}: {e.Problem.Detail}";
            return e.StatusCode switch
            {
                404 => DriverErrors.MachineNotFound(machineId) with { Cause = cause },
                409 when state is not null && action is not null => DriverErrors.InvalidState(machineId, state.Value, action) with { Cause = cause },
                _ => DriverErrors.HypervisorFailed(machineId, HypervisorFailure.Operation, "the peer refused: " + cause),
            };
        }
        catch (Exception e) when (e is HttpRequestException or WelkinProtocolException || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            CallFailed();
            return DriverErrors.HostUnavailable(_host.Name) with { Cause = e.Message };
        }
    }

    /// <summary>Follows the peer's job to its end, reporting its progress.</summary>
    private async Task<Result<JobView>> WaitAsync(string machineId, WelkinClient client, JobView job, IProgress<int>? progress, CancellationToken ct)
    {
        var delay = JobPollFirst;
        while (job.State is JobState.Queued or JobState.Running)
        {
            progress?.Report(Math.Clamp(5 + job.Progress * 90 / 100, 5, 95));
            await Task.Delay(delay, _clock, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, JobPollMost.Ticks));
            var id = job.Id;
            var next = await CallAsync(machineId, () => client.Jobs.GetAsync(id, ct), ct);
            if (!next.IsSuccess)
            {
                return next.Error!;
            }
            job = next.Value;
        }
        return job.State == JobState.Succeeded
            ? job
            : DriverErrors.HypervisorFailed(machineId, HypervisorFailure.Operation, $"the peer's job {job.Id} ({job.Action}) ended {job.State}: {job.ErrorCode} {job.ErrorDetail}");
    }

    /// <summary>The tail of <paramref name="text"/> of at most <paramref name="maxBytes"/> UTF-8 bytes, cut at a character boundary.</summary>
    private static string Tail(string text, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(text) <= maxBytes)
        {
            return text;
        }
        var start = text.Length;
        var bytes = 0;
        while (start > 0)
        {
            var size = char.IsLowSurrogate(text[start - 1]) && start > 1 ? 2 : 1;
            var width = Encoding.UTF8.GetByteCount(text.AsSpan(start - size, size));
            if (bytes + width > maxBytes)
            {
                break;
            }
            bytes += width;
            start -= size;
        }
        return text[start..];
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stop.Cancel();
            _events.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        var first = Interlocked.CompareExchange(ref _disposed, 1, 0) == 0;
        if (first)
        {
            _stop.Cancel();
            _events.Writer.TryComplete();
        }
        try
        {
            await _poller;
        }
        catch (OperationCanceledException)
        {
        }
    }
}
