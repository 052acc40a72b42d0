using Welkin.Core.Data;

namespace Welkin.Compute.Peer;

/// <summary>One of this cloud's volumes kept on a peer for a machine of a peer pool: where it is there.</summary>
/// <param name="Generation">How many times the local id was created on the peer; part of the Idempotency-Key, so a create after a delete is a fresh volume.</param>
public sealed record PeerVolumeRow(
    string VolumeId, string Pool, string Peer, string AgreementId, long Generation, long SizeGiB, string? RemoteVolumeId, long Deleted, long CreatedAt, long UpdatedAt)
{
    public bool IsDeleted => Deleted != 0;

    /// <summary>The Idempotency-Key of the volume's create on the peer.</summary>
    public string IdempotencyKey => Generation == 1 ? VolumeId : $"{VolumeId}.{Generation}";
}

/// <summary>
/// The owner of <c>peer_volumes</c>: the local volume id to the agreement it is kept under and the volume it is on the
/// peer. A row is written before the peer is called (so a create repeated after a crash sends the same Idempotency-Key
/// and gets the same remote volume) and completed once the peer answers.
/// </summary>
public sealed class PeerVolumeStore(IDatabase db, TimeProvider clock)
{
    private const string Columns =
        "volume_id AS VolumeId, pool AS Pool, peer AS Peer, agreement_id AS AgreementId, generation AS Generation, size_gib AS SizeGiB, " +
        "remote_volume_id AS RemoteVolumeId, deleted AS Deleted, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public Task<PeerVolumeRow?> GetAsync(string volumeId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<PeerVolumeRow>($"SELECT {Columns} FROM peer_volumes WHERE volume_id = @Id", new { Id = volumeId }, ct);

    /// <summary>
    /// Records that the volume is about to be created on the peer: a new row, or the next generation of a deleted one.
    /// Returns the row to create with (an existing live row unchanged).
    /// </summary>
    public async Task<PeerVolumeRow> BeginAsync(string pool, string peer, string agreementId, string volumeId, long sizeGiB, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await db.WriteAsync<PeerVolumeRow>(async tx =>
        {
            var current = await tx.QuerySingleOrDefaultAsync<PeerVolumeRow>($"SELECT {Columns} FROM peer_volumes WHERE volume_id = @Id", new { Id = volumeId });
            if (current is { IsDeleted: false })
            {
                return current;
            }
            var row = new PeerVolumeRow(volumeId, pool, peer, agreementId, (current?.Generation ?? 0) + 1, sizeGiB, null, 0, now, now);
            await tx.ExecuteAsync(current is null
                ? """
                  INSERT INTO peer_volumes (volume_id, pool, peer, agreement_id, generation, size_gib, remote_volume_id, deleted, created_at, updated_at)
                  VALUES (@VolumeId, @Pool, @Peer, @AgreementId, @Generation, @SizeGiB, NULL, 0, @CreatedAt, @UpdatedAt)
                  """
                : """
                  UPDATE peer_volumes SET pool = @Pool, peer = @Peer, agreement_id = @AgreementId, generation = @Generation, size_gib = @SizeGiB,
                      remote_volume_id = NULL, deleted = 0, updated_at = @UpdatedAt
                  WHERE volume_id = @VolumeId
                  """, row);
            return row;
        }, ct);
        return result.Value;
    }

    /// <summary>Records the volume the peer created.</summary>
    public async Task<PeerVolumeRow> CompleteAsync(PeerVolumeRow row, string remoteVolumeId, CancellationToken ct)
    {
        var updated = row with { RemoteVolumeId = remoteVolumeId, UpdatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds() };
        await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync(
                "UPDATE peer_volumes SET remote_volume_id = @RemoteVolumeId, updated_at = @UpdatedAt WHERE volume_id = @VolumeId AND generation = @Generation",
                updated);
            return true;
        }, ct);
        return updated;
    }

    /// <summary>Marks the volume deleted (the row stays, so the next create of the id is a new generation).</summary>
    public async Task DeletedAsync(PeerVolumeRow row, CancellationToken ct) =>
        await db.WriteAsync<bool>(async tx =>
        {
            await tx.ExecuteAsync("UPDATE peer_volumes SET deleted = 1, updated_at = @Now WHERE volume_id = @Id AND generation = @Generation",
                new { Id = row.VolumeId, row.Generation, Now = clock.GetUtcNow().ToUnixTimeMilliseconds() });
            return true;
        }, ct);
}
