using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Jobs;

namespace Welkin.Core.Changes;

/// <summary>What the three kinds of move (cold to a peer, cold home, live to a peer) end with alike.</summary>
internal static class MoveSteps
{
    /// <summary>The refusal when the machine's record changed while the move was under way.</summary>
    public static Error Changed(string id) => Error.InvalidState($"Machine '{id}' was changed by something else meanwhile; it was not moved.");

    /// <summary>Removes a spool file the move wrote, if there is one.</summary>
    public static void DeleteSpool(string? spool)
    {
        if (spool is not null && File.Exists(spool))
        {
            File.Delete(spool);
        }
    }

    /// <summary>Ends the move's job: succeeded with <paramref name="message"/>, or failed with <paramref name="error"/>.</summary>
    public static Task FinishAsync(IDatabase db, JobContext context, Error? error, string? message, CancellationToken ct) =>
        db.WriteAsync<bool>(async tx =>
        {
            if (error is null)
            {
                await context.Queue.SucceedAsync(tx, context.Job.Id, null, message);
            }
            else
            {
                await context.Queue.FailAsync(tx, context.Job.Id, error);
            }
            return true;
        }, ct);
}
