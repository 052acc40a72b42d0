using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Jobs;

/// <summary>
/// A room whose finished jobs hand out a secret once (the Service Manager's generated machine
/// passwords). The secret is issued to the first reader of the job who may configure its
/// account's resources; only what the room keeps (a hash) remains, and later reads show none.
/// </summary>
public interface IJobSecrets
{
    /// <summary>Whether a succeeded job still has secrets to issue (a cheap check on its result, outside any transaction).</summary>
    bool HasSecrets(JobView job);

    /// <summary>Issues the secrets in <paramref name="tx"/> (the job is already marked issued in it) and returns the job showing them.</summary>
    Task<JobView> IssueAsync(Tx tx, Caller caller, JobView job);
}

/// <summary>Reading one job: the queue's view of it, with any secrets its result hands out once (<see cref="IJobSecrets"/>).</summary>
public sealed class JobService(IDatabase db, JobQueue queue, IEnumerable<IJobSecrets> secrets)
{
    private readonly IReadOnlyList<IJobSecrets> _secrets = secrets.ToList();

    public async Task<Result<JobView>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        var job = await queue.GetAsync(caller, id, ct);
        if (!job.IsSuccess || job.Value.State != JobState.Succeeded || caller.IsProvider || !caller.Can(Permission.ResourcesConfigure)
            || _secrets.FirstOrDefault(s => s.HasSecrets(job.Value)) is not { } issuer)
        {
            return job;
        }
        var issued = await db.WriteAsync<JobView?>(async tx =>
            // Marking the job issued is conditional, so of two concurrent reads only one gets the secrets.
            await queue.MarkSecretsIssuedAsync(tx, id) ? await issuer.IssueAsync(tx, caller, job.Value) : null, ct);
        return issued.Value ?? await queue.GetAsync(caller, id, ct);
    }
}
