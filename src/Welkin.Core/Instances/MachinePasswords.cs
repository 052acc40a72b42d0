using System.Security.Cryptography;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Data;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Instances;

/// <summary>
/// Generated machine passwords: 128 random bits, stored as SHA-256 only (enough entropy that a
/// slow hash adds nothing). A machine made without an SSH key gets one when its provision or
/// scale job is first read by a principal who may configure the account's resources; the job's
/// result shows it that once.
/// </summary>
public sealed class MachinePasswords(AuditLog audit) : IJobSecrets
{
    public static string New() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string password) => "sha256$" + ApiTokens.Hash(password);

    public bool HasSecrets(JobView job) =>
        job.Action is ServiceManager.Actions.Provision or Changes.ChangeManager.Actions.Scale
        && job.Result is { } stored
        && stored.Deserialize<ProvisionResult>(WelkinJson.Client) is { } result
        && result.Machines.Any(m => m.Access is { SshKeyFingerprint: null, Password: null });

    public async Task<JobView> IssueAsync(Tx tx, Caller caller, JobView job)
    {
        var result = job.Result!.Value.Deserialize<ProvisionResult>(WelkinJson.Client)!;
        var machines = new List<ProvisionedMachine>();
        foreach (var pm in result.Machines)
        {
            if (pm.Access is not { SshKeyFingerprint: null })
            {
                machines.Add(pm);
                continue;
            }
            var m = await MachineStore.GetMachineAsync(tx, pm.Id);
            if (m?.ParsedAccess is not { } access)
            {
                machines.Add(pm);
                continue;
            }
            var password = New();
            await MachineStore.SetAccessAsync(tx, pm.Id, access with { PasswordHash = Hash(password) });
            machines.Add(pm with { Access = pm.Access with { Password = password } });
        }
        await audit.AppendAsync(tx, caller, new AuditEvent("machine.password-issue", job.Target, AuditEvent.Success, caller.AccountId,
            $"job={job.Id}; machines={machines.Count(m => m.Access?.Password is not null)}"));
        return job with { Result = JsonSerializer.SerializeToElement(result with { Machines = machines }, WelkinJson.Client) };
    }
}
