using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Core.Configuration;

/// <summary>A machine as the Configuration Manager needs it: whose it is, the pool it runs in, whether it can take devices and which its data disks hold.</summary>
internal sealed record MachineRef(string Id, string AccountId, string InstanceId, string State, string? Host, string? Pool, IReadOnlyList<string>? DataDiskDevices = null)
{
    public bool IsGone => State is "terminating" or "terminated";

    /// <summary>Running or paused: the guest is live, so devices change by hot-plug or not until its next start.</summary>
    public bool IsLive => State is "running" or "paused";
}

/// <summary>Machine look-ups and the unit accounting volumes share with machines.</summary>
internal static class Resources
{
    public static readonly string Terminated = WireNames.Of(MachineState.Terminated);

    /// <summary>The machine, or a 404 when it does not exist or belongs to another account than <paramref name="accountId"/>.</summary>
    public static async Task<Result<MachineRef>> MachineAsync(Tx tx, string machineId, string accountId)
    {
        if (!Ids.IsValid(machineId, Ids.Machine))
        {
            return Error.InvalidId(machineId, "machine");
        }
        var machine = await FindAsync(tx, machineId);
        return machine is null || machine.AccountId != accountId ? Error.NotFound("Machine", machineId) : machine;
    }

    /// <summary>The machine, or null when it does not exist.</summary>
    public static async Task<MachineRef?> FindAsync(Tx tx, string machineId) =>
        await Instances.MachineStore.GetMachineAsync(tx, machineId) is { } m ? new MachineRef(m.Id, m.AccountId, m.InstanceId, m.State, m.Host, m.Pool, [.. m.DataDisks.Select(d => d.Device)])
            : null;

    public static string Clip(string s) => s.Length <= 100 ? s : s[..100];
}
