using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// A machine of this cloud arriving live at the peer: the peer prepares it (<c>POST /api/v1/machines/incoming</c>,
/// under the agreement's contract line the machine's sizes fit, with its own federation certificate, accepting only
/// the certificate this cloud's link presents), this cloud's hypervisor sends the disks and the guest's state straight
/// to the address the peer answers, and the peer runs it on <c>complete</c> (its billing of this cloud starts then) or
/// removes it on abort. The <c>peer_machines</c> row is written before the peer is asked (the key of the request) and
/// gets the peer's machine once it answers.
/// </summary>
public sealed partial class PeerDriver : ILiveMigrationTarget
{
    /// <remarks><paramref name="tls"/> is this cloud's side; the peer's side of the streams is the peer's own certificate.</remarks>
    public async Task<Result<IncomingMachine>> PrepareIncomingAsync(OutgoingMachine machine, string host, MigrationTls tls, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (host != _host.Name)
        {
            return DriverErrors.UnknownHost(host);
        }
        // A peer's pool takes none of this cloud's volumes or networks.
        var spec = machine.Spec with { Host = host, Volumes = [], Networks = [] };
        if (machine.Disks.Any(d => d.Id != "root") || machine.Spec.Networks.Count > 0)
        {
            return DriverErrors.Unsupported("this cloud's volumes and networks on a peer's machines");
        }
        using var hold = await HoldAsync(spec.MachineId, ct);
        if (await _store.GetAsync(spec.MachineId, ct) is { IsDestroyed: false })
        {
            return DriverErrors.InvalidState(spec.MachineId, DriverMachineState.Creating, "arrive: the pool has it already");
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return connected.Error!;
        }
        var (link, client) = connected.Value;
        var line = await PeerItems.RequestForAsync(client, link, spec, null, ct);
        if (!line.IsSuccess)
        {
            return line.Error!;
        }
        var p = line.Value;
        var request = new IncomingMachineRequest(p.ContractId, p.VirtualSystems![0].VirtualSystem, spec.Vcpus, spec.MemoryMiB, spec.DiskGiB,
            [.. machine.Disks.Select(d => new IncomingDisk(d.Id, d.VirtualSizeBytes))], machine.Running, p.Item, spec.OperatingSystem, machine.Hypervisor, p.Name);
        var row = await _store.BeginAsync(_pool, Peer, link.AgreementId, spec, ct);
        var prepared = await CallAsync(spec.MachineId, () => client.Machines.PrepareIncomingAsync(request, "incoming." + row.IdempotencyKey, ct), ct);
        if (!prepared.IsSuccess)
        {
            await _store.DestroyedAsync(spec.MachineId, ct);
            return prepared.Error!;
        }
        var there = prepared.Value;
        await _store.CompleteAsync(row, there.InstanceId, there.MachineId, ct);
        return new IncomingMachine(spec.MachineId, there.Address, there.DiskPort, there.MigrationPort, there.Exports);
    }

    /// <summary>The handover: the peer runs the machine (and bills this cloud for it) from now.</summary>
    public async Task<Result<DriverMachine>> ResumeIncomingAsync(string machineId, CancellationToken ct)
    {
        using var hold = await HoldAsync(machineId, ct);
        var row = await _store.GetAsync(machineId, ct);
        if (row is null || row.IsDestroyed || row.RemoteMachineId is null)
        {
            return DriverErrors.MachineNotFound(machineId);
        }
        var connected = await ConnectAsync(ct);
        if (!connected.IsSuccess)
        {
            return connected.Error!;
        }
        var client = connected.Value.Client;
        var view = await CallAsync(machineId, () => client.Machines.CompleteIncomingAsync(row.RemoteMachineId, ct), ct);
        if (!view.IsSuccess)
        {
            return view.Error!;
        }
        return ToDriver(row, view.Value) is { } machine
            ? Seen(machine)
            : DriverErrors.HypervisorFailed(machineId, HypervisorFailure.IncomingMigration, $"the peer's machine {row.RemoteMachineId} is {view.Value.State}");
    }

    /// <summary>The peer removes what it prepared; a peer that cannot be reached removes it itself once the move has timed out there.</summary>
    public async Task<Result<bool>> AbortIncomingAsync(string machineId, CancellationToken ct)
    {
        using var hold = await HoldAsync(machineId, ct);
        var row = await _store.GetAsync(machineId, ct);
        if (row is null || row.IsDestroyed)
        {
            return true;
        }
        if (row.RemoteMachineId is not null)
        {
            var connected = await ConnectAsync(ct);
            if (!connected.IsSuccess)
            {
                return connected.Error!;
            }
            var client = connected.Value.Client;
            var aborted = await CallAsync(machineId, () => client.Machines.AbortIncomingAsync(row.RemoteMachineId, ct), ct);
            if (!aborted.IsSuccess && aborted.Error!.Code != "machine-not-found")
            {
                return aborted.Error!;
            }
        }
        await _store.DestroyedAsync(machineId, ct);
        Forget(machineId);
        return true;
    }
}
