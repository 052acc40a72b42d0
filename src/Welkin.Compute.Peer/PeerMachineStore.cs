using Welkin.Core.Compute;
using Welkin.Core.Data;

namespace Welkin.Compute.Peer;

/// <summary>One machine of a peer pool: where it is on the peer, and the spec it was created with.</summary>
/// <param name="Generation">How many times the local id was created on the peer; part of the Idempotency-Key, so a create after a destroy is a fresh machine.</param>
public sealed record PeerMachineRow(
    string MachineId, string Pool, string Peer, string AgreementId, long Generation, string Host, string AccountId, long Vcpus, long MemoryMiB, long DiskGiB,
    string? ImageId, string? RemoteInstanceId, string? RemoteMachineId, long Destroyed, long CreatedAt, long UpdatedAt)
{
    public bool IsDestroyed => Destroyed != 0;

    /// <summary>The Idempotency-Key of the provision on the peer.</summary>
    public string IdempotencyKey => Generation == 1 ? MachineId : $"{MachineId}.{Generation}";

    public bool Describes(MachineSpec spec) =>
        spec.Host == Host && spec.AccountId == AccountId && spec.Vcpus == Vcpus && spec.MemoryMiB == MemoryMiB && spec.DiskGiB == DiskGiB && spec.ImageId == ImageId;
}

/// <summary>
/// The owner of <c>peer_machines</c>: the local machine id to the agreement it runs under and the instance and
/// machine it is on the peer. A row is written before the peer is called (so a create repeated after a crash
/// sends the same Idempotency-Key and gets the same remote machine) and completed once the peer's job is done.
/// </summary>
public sealed class PeerMachineStore(IDatabase db, TimeProvider clock)
{
    /// <summary>The pool's volumes on the peer (<c>peer_volumes</c>), in the same database.</summary>
    public PeerVolumeStore Volumes { get; } = new(db, clock);

    private const string Columns =
        "machine_id AS MachineId, pool AS Pool, peer AS Peer, agreement_id AS AgreementId, generation AS Generation, host AS Host, account_id AS AccountId, " +
        "vcpus AS Vcpus, memory_mib AS MemoryMiB, disk_gib AS DiskGiB, image_id AS ImageId, remote_instance_id AS RemoteInstanceId, " +
        "remote_machine_id AS RemoteMachineId, destroyed AS Destroyed, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public Task<PeerMachineRow?> GetAsync(string machineId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<PeerMachineRow>($"SELECT {Columns} FROM peer_machines WHERE machine_id = @Id", new { Id = machineId }, ct);

    /// <summary>The live machines of a pool.</summary>
    public Task<IReadOnlyList<PeerMachineRow>> ListAsync(string pool, CancellationToken ct) =>
        db.QueryAsync<PeerMachineRow>($"SELECT {Columns} FROM peer_machines WHERE pool = @Pool AND destroyed = 0 ORDER BY machine_id", new { Pool = pool }, ct);

    /// <summary>
    /// Records that <paramref name="spec"/> is about to be created on the peer: a new row, or the next generation of
    /// a destroyed one. Returns the row to create with (an existing live row unchanged).
    /// </summary>
    public async Task<PeerMachineRow> BeginAsync(string pool, string peer, string agreementId, MachineSpec spec, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await db.WriteAsync<PeerMachineRow>(async tx =>
        {
            var current = await tx.QuerySingleOrDefaultAsync<PeerMachineRow>($"SELECT {Columns} FROM peer_machines WHERE machine_id = @Id", new { Id = spec.MachineId });
            if (current is { IsDestroyed: false })
            {
                return current;
            }
            var row = new PeerMachineRow(spec.MachineId, pool, peer, agreementId, (current?.Generation ?? 0) + 1, spec.Host, spec.AccountId, spec.Vcpus,
                spec.MemoryMiB, spec.DiskGiB, spec.ImageId, null, null, 0, now, now);
            await tx.ExecuteAsync(current is null
                ? """
                  INSERT INTO peer_machines (machine_id, pool, peer, agreement_id, generation, host, account_id, vcpus, memory_mib, disk_gib, image_id,
                      remote_instance_id, remote_machine_id, destroyed, created_at, updated_at)
                  VALUES (@MachineId, @Pool, @Peer, @AgreementId, @Generation, @Host, @AccountId, @Vcpus, @MemoryMiB, @DiskGiB, @ImageId,
                      NULL, NULL, 0, @CreatedAt, @UpdatedAt)
                  """
                : """
                  UPDATE peer_machines SET pool = @Pool, peer = @Peer, agreement_id = @AgreementId, generation = @Generation, host = @Host,
                      account_id = @AccountId, vcpus = @Vcpus, memory_mib = @MemoryMiB, disk_gib = @DiskGiB, image_id = @ImageId,
                      remote_instance_id = NULL, remote_machine_id = NULL, destroyed = 0, updated_at = @UpdatedAt
                  WHERE machine_id = @MachineId
                  """, row);
            return row;
        }, ct);
        return result.Value;
    }

    /// <summary>Records where the machine is on the peer, once the peer has it.</summary>
    public async Task<PeerMachineRow> CompleteAsync(PeerMachineRow row, string remoteInstanceId, string? remoteMachineId, CancellationToken ct)
    {
        var updated = row with { RemoteInstanceId = remoteInstanceId, RemoteMachineId = remoteMachineId, UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds() };
        await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(
                """
                UPDATE peer_machines SET remote_instance_id = @RemoteInstanceId, remote_machine_id = @RemoteMachineId, updated_at = @UpdatedAt
                WHERE machine_id = @MachineId AND generation = @Generation
                """, updated);
            return true;
        }, ct);
        return updated;
    }

    /// <summary>Records a new size the peer took.</summary>
    public async Task<PeerMachineRow> ResizedAsync(PeerMachineRow row, int vcpus, long memoryMiB, CancellationToken ct)
    {
        var updated = row with { Vcpus = vcpus, MemoryMiB = memoryMiB, UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds() };
        await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(
                "UPDATE peer_machines SET vcpus = @Vcpus, memory_mib = @MemoryMiB, updated_at = @UpdatedAt WHERE machine_id = @MachineId AND generation = @Generation",
                updated);
            return true;
        }, ct);
        return updated;
    }

    /// <summary>Marks the machine destroyed (the row stays, so the next create of the id is a new generation).</summary>
    public async Task DestroyedAsync(string machineId, CancellationToken ct) =>
        await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync("UPDATE peer_machines SET destroyed = 1, updated_at = @Now WHERE machine_id = @Id",
                new { Id = machineId, Now = clock.GetUtcNow().ToUnixTimeMilliseconds() });
            return true;
        }, ct);
}
