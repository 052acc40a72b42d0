using System.Globalization;
using System.Net.Http.Json;
using Welkin.Contracts;

namespace Welkin.Bench;

/// <summary>What the benchmarks of moves between clouds (cold, home, live) do alike through a cloud's API.</summary>
internal static class MoveBenchSteps
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    /// <summary>Provisions one machine of the contract's virtual system "web" and waits for it; returns its id.</summary>
    public static async Task<string> ProvisionAsync(HttpClient tenant, string contractId)
    {
        var accepted = (await (await tenant.PostAsJsonAsync("/api/v1/instances", new ProvisionRequest(contractId, VirtualSystems: [new VirtualSystemChoice("web")]), WelkinJson.Client))
            .Content.ReadFromJsonAsync<AcceptedView<InstanceView>>(WelkinJson.Client))!;
        await WaitAsync(tenant, accepted.Job.Id);
        var instance = (await tenant.GetFromJsonAsync<InstanceView>($"/api/v1/instances/{accepted.Resource.Id}", WelkinJson.Client))!;
        return instance.Machines.Single();
    }

    /// <summary>Waits for the job to end; throws unless it succeeded.</summary>
    public static async Task<JobView> WaitAsync(HttpClient client, string jobId)
    {
        while (true)
        {
            var job = (await client.GetFromJsonAsync<JobView>($"/api/v1/jobs/{jobId}", WelkinJson.Client))!;
            if (job.State is not (JobState.Queued or JobState.Running))
            {
                Check(job);
                return job;
            }
            await Task.Delay(Poll);
        }
    }

    public static void Check(JobView job)
    {
        if (job.State != JobState.Succeeded)
        {
            throw new InvalidOperationException($"Job {job.Id} ({job.Action}) ended {job.State}: {job.ErrorCode} {job.ErrorDetail}");
        }
    }

    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    public static string Join(List<double> values, string format) => string.Join(", ", values.Select(v => v.ToString(format, CultureInfo.InvariantCulture)));
}
