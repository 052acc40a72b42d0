using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Compute.Peer;

/// <summary>
/// Which line of the agreement's contracts on the peer a machine is provisioned under. A consumer cloud sees
/// the peer's offerings, not their templates, so the line is the first compute line whose offering (as the contract holds it) narrows a
/// virtual system to choices that admit the machine's vCPUs, memory, disk and operating system (a choice the
/// offering leaves open is the peer's to check). The machine's sizes travel as that virtual system's choices, with the image of the
/// agreement's account it boots when it came from a package of this cloud.
/// </summary>
internal static class PeerItems
{
    public static async Task<Result<ProvisionRequest>> RequestForAsync(WelkinClient client, PeerLink link, MachineSpec spec, string? imageId, CancellationToken ct)
    {
        var why = new List<string>();
        try
        {
            foreach (var contractId in link.ContractIds)
            {
                var contract = await client.Contracts.GetAsync(contractId, ct);
                if (contract.State != ContractState.Active)
                {
                    why.Add($"contract {contractId} is {contract.State}");
                    continue;
                }
                foreach (var item in contract.Items.Where(i => i.Kind == OfferingKind.Compute))
                {
                    if ((item.Choices ?? []).FirstOrDefault(r => Admits(r, spec)) is { } fits)
                    {
                        var choice = new VirtualSystemChoice(fits.VirtualSystem, 1, spec.Vcpus, spec.MemoryMiB, spec.DiskGiB, spec.OperatingSystem, ImageId: imageId);
                        return new ProvisionRequest(contractId, "welkin-" + spec.MachineId, item.Item, [choice], spec.SshPublicKey);
                    }
                    why.Add($"offering {item.OfferingId} of contract {contractId} line {item.Item} admits no such machine");
                }
            }
        }
        catch (WelkinApiException e)
        {
            why.Add($"{e.StatusCode} {e.Code}: {e.Problem.Detail}");
        }
        catch (HttpRequestException e)
        {
            return DriverErrors.HostUnavailable(spec.Host) with { Cause = e.Message };
        }
        return DriverErrors.HostUnavailable(spec.Host) with
        {
            Cause = $"no line of the agreement {link.AgreementId} takes {spec.Vcpus} vCPUs, {spec.MemoryMiB} MiB, {spec.DiskGiB} GiB: {string.Join("; ", why)}",
        };
    }

    private static bool Admits(VirtualSystemRestriction r, MachineSpec spec) =>
        Allows(r.Vcpus, spec.Vcpus) && Allows(r.MemoryMiB, spec.MemoryMiB) && Allows(r.DiskGiB, spec.DiskGiB)
        && (spec.OperatingSystem is null || Allows(r.OperatingSystem, spec.OperatingSystem));

    private static bool Allows<T>(Choice<T>? choice, T value) => choice is null || choice.Allowed.Contains(value);
}
