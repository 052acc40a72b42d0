using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Portal.Components.Shared;

/// <summary>The caller's machines a volume or a network can still be given to (not terminated or terminating).</summary>
public static class LiveMachines
{
    public static async Task<List<MachineView>> ListAsync(WelkinClient api, CancellationToken ct)
    {
        var machines = new List<MachineView>();
        string? after = null;
        do
        {
            var page = await api.Machines.ListAsync(after: after, limit: 200, ct: ct);
            machines.AddRange(page.Items.Where(m => m.State is not (MachineState.Terminated or MachineState.Terminating)));
            after = page.Next;
        }
        while (after is not null && machines.Count < 1000);
        return machines;
    }
}
