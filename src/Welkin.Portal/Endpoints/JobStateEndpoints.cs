using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Client;
using Welkin.Portal.Sessions;

namespace Welkin.Portal.Endpoints;

/// <summary>
/// A job's state for the job page's live progress (wwwroot/portal.js polls it while the job runs). It answers with the
/// person's own token, like every page: another tenant's job is a 404 here as it is in the API.
/// </summary>
public static class JobStateEndpoints
{
    public sealed record JobState(string State, int Progress, string? Message, bool Finished);

    public static IEndpointRouteBuilder MapJobState(this IEndpointRouteBuilder app)
    {
        app.MapGet("/jobs/{id}/state", GetStateAsync).ExcludeFromDescription();
        return app;
    }

    private static async Task<Results<Ok<JobState>, NotFound, UnauthorizedHttpResult>> GetStateAsync(string id, HttpContext context, CancellationToken ct)
    {
        var portal = context.RequestServices.GetRequiredService<PortalContext>();
        if (!portal.IsSignedIn)
        {
            return TypedResults.Unauthorized();
        }
        try
        {
            var job = await portal.Client().Jobs.GetAsync(id, ct);
            context.Response.Headers.CacheControl = "no-store";
            var finished = job.State is Contracts.JobState.Succeeded or Contracts.JobState.Failed or Contracts.JobState.Cancelled;
            return TypedResults.Ok(new JobState(Components.Shared.Format.Kind(job.State), job.Progress, job.StatusMessage, finished));
        }
        catch (WelkinApiException e) when (e.StatusCode is 400 or 403 or 404)
        {
            return TypedResults.NotFound();
        }
    }
}
