using System.Collections.Concurrent;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

public sealed class OutgoingMachineOptions
{
    /// <summary>How long a machine whose disks and state are all sent waits, paused, for its peer cloud's handover before it runs on here.</summary>
    public TimeSpan HandoverTimeout { get; set; } = TimeSpan.FromMinutes(2);
}

/// <summary>
/// The provider's side of a machine going home live: the peer cloud that runs one of its machines here (a caller of
/// kind cloud, on the federation listener) describes it, prepares it at home, and has this cloud's hypervisor send it
/// there (<see cref="ILiveMigrationSource"/>, with this cloud's federation certificate, checking the peer's name).
/// The handover is the peer's to confirm: once everything is sent the guest waits paused here (<see cref="SendState.Ready"/>),
/// the peer resumes it at home and calls <see cref="HandoverAsync"/>; only then does this cloud end its copy. The peer
/// polls rather than holding one long request open, so that a cut connection loses nothing and every call can be repeated.
/// The machine's record ends (terminating, so billing ends) at the handover and is terminated, capacity and units back,
/// once the source has removed the guest. A cancel, a failure or a handover not confirmed in time leaves the guest running here.
/// </summary>
public sealed class OutgoingMachines(MachineLifecycle lifecycle, IMigrationCredentials credentials, AuditLog audit, OutgoingMachineOptions options)
{
    public const string Action = "machine.send";

    private readonly ConcurrentDictionary<string, Sending> _sending = new(StringComparer.Ordinal);

    /// <summary>What the peer cloud prepares at home for one of its machines here; <c>unsupported</c> when its pool cannot send machines live.</summary>
    public async Task<Result<OutgoingMachineView>> DescribeAsync(Caller caller, string? peerSubject, string id, CancellationToken ct)
    {
        var found = await FindAsync(caller, peerSubject, id, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (m, source) = found.Value;
        var described = await source.DescribeOutgoingAsync(m.Id, ct);
        if (!described.IsSuccess)
        {
            return described.Error!;
        }
        var d = described.Value;
        return new OutgoingMachineView(m.Id, d.Spec.Vcpus, d.Spec.MemoryMiB, d.Spec.DiskGiB, d.Spec.OperatingSystem,
            [.. d.Disks.Select(x => new IncomingDisk(x.Id, x.VirtualSizeBytes))], d.Running, d.Hypervisor);
    }

    /// <summary>Starts sending the machine to where its peer cloud prepared it; the guest runs here meanwhile. Repeating it while a send is under way answers that one.</summary>
    public async Task<Result<SendView>> SendAsync(Caller caller, string? peerSubject, string id, SendMachineRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var found = await FindAsync(caller, peerSubject, id, ct);
        if (found.Error is { Kind: ErrorKind.Forbidden or ErrorKind.Validation } refused)
        {
            return refused;
        }
        if (Validate(request) is { } invalid)
        {
            return invalid;
        }
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var (m, source) = found.Value;
        if (_sending.TryGetValue(m.Id, out var current) && current.State is SendState.Sending or SendState.Ready)
        {
            return current.View;
        }
        var tls = credentials.For(request.PeerName);
        if (!tls.IsSuccess)
        {
            return tls.Error!;
        }
        var sending = new Sending(m.Id);
        _sending[m.Id] = sending;
        var target = new IncomingMachine(m.Id, request.Address, request.DiskPort, request.MigrationPort, request.Exports);
        sending.Run = Task.Run(() => RunAsync(caller, m, source, target, tls.Value, sending), CancellationToken.None);
        await audit.AppendAsync(lifecycle.Db, caller, new AuditEvent(Action, m.Id, AuditEvent.Success, m.AccountId, $"sending; to={request.Address}; peer={request.PeerName}"), ct);
        return sending.View;
    }

    /// <summary>Where the machine's move home stands.</summary>
    public async Task<Result<SendView>> StatusAsync(Caller caller, string? peerSubject, string id, CancellationToken ct)
    {
        var allowed = await CheckAsync(caller, peerSubject, id, ct);
        if (!allowed.IsSuccess)
        {
            return allowed.Error!;
        }
        return _sending.TryGetValue(id, out var s) ? s.View : Error.NotFound("Send", id);
    }

    /// <summary>The peer cloud runs the guest at home: this cloud ends its copy. Repeating it answers the finished move.</summary>
    public Task<Result<SendView>> HandoverAsync(Caller caller, string? peerSubject, string id, CancellationToken ct) => DecideAsync(caller, peerSubject, id, true, ct);

    /// <summary>The peer cloud gives up the move: the guest runs on here.</summary>
    public Task<Result<SendView>> CancelAsync(Caller caller, string? peerSubject, string id, CancellationToken ct) => DecideAsync(caller, peerSubject, id, false, ct);

    private async Task<Result<SendView>> DecideAsync(Caller caller, string? peerSubject, string id, bool handover, CancellationToken ct)
    {
        var allowed = await CheckAsync(caller, peerSubject, id, ct);
        if (!allowed.IsSuccess)
        {
            return allowed.Error!;
        }
        if (!_sending.TryGetValue(id, out var s))
        {
            return Error.NotFound("Send", id);
        }
        if (handover && s.State == SendState.Sending)
        {
            return Error.InvalidState($"Machine '{id}' is still being sent; hand it over once it is ready.");
        }
        s.Decision.TrySetResult(handover);
        await s.Run!.WaitAsync(ct);
        return handover && s.State != SendState.HandedOver
            ? Error.InvalidState($"Machine '{id}' was not handed over: {s.Detail}")
            : s.View;
    }

    private async Task RunAsync(Caller caller, MachineRow m, ILiveMigrationSource source, IncomingMachine target, MigrationTls tls, Sending s)
    {
        Result<LiveMigrationReport> moved;
        try
        {
            moved = await source.MigrateOutAsync(m.Id, target, tls, c => AwaitHandoverAsync(caller, m, s, c), null, CancellationToken.None);
        }
        catch (OperationCanceledException)
        {
            moved = Error.InvalidState("the move was cut short");
        }
        if (!moved.IsSuccess)
        {
            s.Finish(SendState.Failed, moved.Error!.Detail);
            return;
        }
        var ended = await lifecycle.DestroyAsync(caller, m.Id, CancellationToken.None);
        s.Finish(SendState.HandedOver, ended.IsSuccess ? null : "the machine runs at the peer cloud; ending its record here failed: " + ended.Error!.Detail);
    }

    /// <summary>The source's resumeAtTarget: everything is sent; the peer resumes the guest and confirms, or the guest runs on here.</summary>
    private async Task<Result<DriverMachine>> AwaitHandoverAsync(Caller caller, MachineRow m, Sending s, CancellationToken ct)
    {
        s.State = SendState.Ready;
        bool confirmed;
        try
        {
            confirmed = await s.Decision.Task.WaitAsync(options.HandoverTimeout, ct);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            confirmed = false;
        }
        if (!confirmed)
        {
            return Error.InvalidState("the peer cloud did not confirm the handover");
        }
        // The guest is the peer's from this instant: billing here ends now, not when the source has cleaned up.
        var current = await lifecycle.LoadAsync(m.Id, CancellationToken.None);
        if (current is not null && current.State != MachineStore.Terminating && current.State != MachineStore.Terminated)
        {
            await lifecycle.Db.WriteAsync<MachineRow?>(async tx => await MachineStore.TransitionAsync(tx, lifecycle.Events, caller, current, MachineState.Terminating, lifecycle.Now),
                CancellationToken.None);
        }
        return new DriverMachine(m.Id, m.Host ?? "", DriverMachineState.Running, (int)m.Vcpus, m.MemoryMiB, [], []);
    }

    /// <summary>A machine of the caller's account, running or paused, in a pool that sends machines live.</summary>
    private async Task<Result<(MachineRow Machine, ILiveMigrationSource Source)>> FindAsync(Caller caller, string? peerSubject, string id, CancellationToken ct)
    {
        var allowed = await CheckAsync(caller, peerSubject, id, ct);
        if (!allowed.IsSuccess)
        {
            return allowed.Error!;
        }
        var m = allowed.Value;
        if (m.State != MachineStore.Running && m.State != MachineStore.Paused)
        {
            return Error.InvalidState($"Machine '{id}' is {m.State}; only a running or paused machine moves live.");
        }
        return lifecycle.DriverOf(m) is { IsSuccess: true, Value: ILiveMigrationSource source }
            ? (m, source)
            : DriverErrors.Unsupported($"live moves from pool '{m.Pool}'");
    }

    private async Task<Result<MachineRow>> CheckAsync(Caller caller, string? peerSubject, string id, CancellationToken ct)
    {
        var ok = caller.Roles.Contains(Role.Cloud) && caller.CertificateSha256 is not null && caller.AccountId is not null && !string.IsNullOrEmpty(peerSubject);
        var refused = ok ? null : Error.Forbidden("Only a peer cloud, under its agreement's credential on the federation listener, takes its machines home live.");
        if ((refused ?? Filters.Id(id, Ids.Machine, "machine")) is { } denied)
        {
            return denied;
        }
        var m = await lifecycle.LoadAsync(id, ct);
        return m is null || m.AccountId != caller.AccountId ? Error.NotFound("Machine", id) : m;
    }

    private static Error? Validate(SendMachineRequest r)
    {
        var v = new Validator();
        v.Require(Uri.CheckHostName(r.Address) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6 && r.Address.Length <= 253, "address",
            "address must be a host name or an IP address");
        v.Require(r.DiskPort is >= 1 and <= 65535, "diskPort", "diskPort must be 1-65535");
        v.Require(r.MigrationPort is >= 1 and <= 65535, "migrationPort", "migrationPort must be 1-65535");
        v.Require(r.Exports is { Count: 1 } e && e.TryGetValue("root", out var name) && IsName(name), "exports",
            "exports must name the export of the one system disk (root): a-z, A-Z, 0-9, '.', '-', '_' (1-64)");
        v.Require(Uri.CheckHostName(r.PeerName) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6 && r.PeerName.Length <= 253, "peerName",
            "peerName must be the host name of the peer cloud's federation API");
        return v.ToError();
    }

    private static bool IsName(string s) => s.Length is >= 1 and <= 64 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');

    /// <summary>One machine being sent: its state, the peer's decision at the handover, and the run.</summary>
    private sealed class Sending(string machineId)
    {
        private volatile SendState _state = SendState.Sending;

        public SendState State
        {
            get => _state;
            set => _state = value;
        }

        public string? Detail { get; private set; }

        public TaskCompletionSource<bool> Decision { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task? Run { get; set; }

        public SendView View => new(machineId, State, Detail);

        public void Finish(SendState state, string? detail)
        {
            Detail = detail;
            State = state;
        }
    }
}
