using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Audit;

/// <summary>Settings of the audit log's anchors outside the database (section "Audit"); relative paths are under the data directory.</summary>
public sealed class AuditOptions
{
    public const string DefaultSigningKeyFile = "audit-signing.key";

    public const string DefaultCheckpointFile = "audit-checkpoints.jsonl";

    /// <summary>The private key (PEM, mode 0600), created at first start; keep it on another volume to keep it from whoever can read the data directory.</summary>
    public string SigningKeyFile { get; set; } = DefaultSigningKeyFile;

    /// <summary>The append-only file of signed checkpoints.</summary>
    public string CheckpointFile { get; set; } = DefaultCheckpointFile;

    /// <summary>How often the head is checkpointed when it moved since the last checkpoint.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Signed checkpoints of the audit log's head: at start, every <see cref="AuditOptions.CheckpointInterval"/>,
/// on demand and at shutdown. A checkpoint is refused when the head does not match the log's last
/// entry, that entry's seal does not verify, or the head fell behind the last checkpoint: it must
/// never vouch for a log someone rewrote.
/// </summary>
public sealed class AuditCheckpoints(IDatabase db, AuditKey key, AuditCheckpointFile file, TimeProvider clock) : IDisposable
{
    public const int MaxLimit = 1000;

    private readonly SemaphoreSlim _gate = new(1, 1);

    public void Dispose() => _gate.Dispose();

    /// <summary>What verification checks the log against: the checkpoint file as it is now, and the key.</summary>
    public AuditAnchors Anchors() => new(key.Public, key, file.ReadAll());

    public Task<Result<AuditCheckpointView>> CreateAsync(Caller caller, CancellationToken ct) =>
        caller.Can(Permission.AuditVerify)
            ? CheckpointAsync(evenIfUnchanged: true, ct)
            : Task.FromResult<Result<AuditCheckpointView>>(Error.Forbidden("Checkpointing the audit log needs the auditor or provider-admin role."));

    public Result<Page<AuditCheckpointView>> List(Caller caller, long? after, int limit)
    {
        if (!caller.Can(Permission.AuditVerify))
        {
            return Error.Forbidden("Reading the audit checkpoints needs the auditor or provider-admin role.");
        }
        var paging = new Paging(limit, MaxLimit);
        var read = file.ReadAll()
            .Where(l => l.Number > (after ?? 0) && l.Checkpoint is not null)
            .Take(paging.Take)
            .Select(l => l.Checkpoint!.ToView(l.Number))
            .ToList();
        return paging.Page(read, c => c.Number.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public Result<AuditSigningKeyView> SigningKey(Caller caller) =>
        caller.Can(Permission.AuditVerify)
            ? new AuditSigningKeyView(key.KeyId, AuditPublicKey.Algorithm, key.Public.Pem)
            : Error.Forbidden("Reading the audit signing key needs the auditor or provider-admin role.");

    /// <summary>Signs the current head and appends it to the file; without <paramref name="evenIfUnchanged"/>, a head the last checkpoint already signed is not signed again.</summary>
    public async Task<Result<AuditCheckpointView>> CheckpointAsync(bool evenIfUnchanged, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var lines = file.ReadAll();
            var last = lines.LastOrDefault(l => l.Checkpoint is { } c && c.IsSignedBy(key.Public));
            var (head, entry) = await AuditLog.HeadAsync(db, ct);
            if (Refusal(head, entry, last?.Checkpoint) is { } refusal)
            {
                return Error.InvalidState(refusal + " Run audit verify.");
            }
            if (!evenIfUnchanged && last?.Checkpoint is { } previous && previous.Seq == head!.Seq && previous.Hash == head.Hash)
            {
                return previous.ToView(last.Number);
            }
            var checkpoint = AuditCheckpoint.Sign(key, head!.Seq, head.Hash, clock.GetUtcNow());
            file.Append(checkpoint);
            return checkpoint.ToView(lines.Count + 1);
        }
        finally
        {
            _gate.Release();
        }
    }

    private string? Refusal(AuditLog.HeadRow? head, AuditLog.AuditRow? entry, AuditCheckpoint? last)
    {
        if (head is null)
        {
            return "The audit head row is missing.";
        }
        if (head.Seq < 1)
        {
            if (head.Hash != AuditLog.GenesisHash)
            {
                return "The audit head of the empty log is not the genesis hash.";
            }
        }
        else if (entry is null || entry.Hash != head.Hash || AuditLog.ComputeHash(entry) != entry.Hash)
        {
            return $"The audit head (entry {head.Seq}) does not match the log's entry {head.Seq}.";
        }
        else if (entry.Seal is null ? last is not null && entry.Seq > last.Seq : entry.Seal != key.Seal(entry.Hash))
        {
            return $"The audit log's last entry ({entry.Seq}) was not written by this server.";
        }
        if (last is not null && (head.Seq < last.Seq || (head.Seq == last.Seq && head.Hash != last.Hash)))
        {
            return $"The audit head (entry {head.Seq}) does not continue the last checkpoint (entry {last.Seq}).";
        }
        return null;
    }
}

/// <summary>Checkpoints the head at start, at every interval tick (when it moved) and at shutdown.</summary>
public sealed class AuditCheckpointWork(AuditCheckpoints checkpoints, AuditOptions options, ILogger<AuditCheckpointWork> logger) : IPeriodicWork, IHostedService
{
    public string Name => "audit.checkpoint";

    public TimeSpan Interval => options.CheckpointInterval;

    public Task RunAsync(DateTimeOffset now, CancellationToken ct) => CheckpointAsync("interval", ct);

    public Task StartAsync(CancellationToken cancellationToken) => CheckpointAsync("start", cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await CheckpointAsync("shutdown", cancellationToken);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or InvalidOperationException)
        {
            logger.LogWarning(e, "Audit checkpoint at shutdown failed");
        }
    }

    private async Task CheckpointAsync(string when, CancellationToken ct)
    {
        var result = await checkpoints.CheckpointAsync(evenIfUnchanged: false, ct);
        if (!result.IsSuccess)
        {
            logger.LogWarning("Audit checkpoint at {When} refused: {Reason}", when, result.Error!.Detail);
        }
    }
}

public static class AuditServiceCollectionExtensions
{
    /// <summary>The signing key, the checkpoint file and the checkpointing work; relative paths in <paramref name="options"/> are under <paramref name="dataDir"/>.</summary>
    public static IServiceCollection AddAuditCheckpoints(this IServiceCollection services, AuditOptions options, string dataDir)
    {
        var keyFile = Path.GetFullPath(options.SigningKeyFile, dataDir);
        services.AddSingleton(options);
        services.AddSingleton(_ => AuditKey.LoadOrCreate(keyFile));
        services.AddSingleton(new AuditCheckpointFile(Path.GetFullPath(options.CheckpointFile, dataDir)));
        services.AddSingleton<AuditCheckpoints>();
        services.AddPeriodicWork<AuditCheckpointWork>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditCheckpointWork>());
        return services;
    }
}
