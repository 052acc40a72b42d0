using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Instances;
using Welkin.Core.Scaling;
using Welkin.Core.Security;

namespace Welkin.Core.Sla;

/// <summary>The SLA report of a contract per billing period, and operators' acknowledgement of incidents.</summary>
public sealed class SlaService(IDatabase db, AuditLog audit, EventLog events, TimeProvider clock)
{
    public async Task<Result<SlaReportView>> ReportAsync(Caller caller, string contractId, string? period, CancellationToken ct)
    {
        if (!Ids.IsValid(contractId, Ids.Contract))
        {
            return Error.InvalidId(contractId, "contract");
        }
        if (Tenancy.Require(caller, Permission.UsageRead, "Reading SLA reports") is { } denied)
        {
            return denied;
        }
        var range = period is null ? BillingPeriod.Of(clock.GetUtcNow()) : BillingPeriod.TryParse(period, out var parsed) ? parsed : (BillingPeriod?)null;
        if (range is not { } p)
        {
            return Error.Validation("period", "period must be a calendar month as yyyy-MM (e.g. 2026-11)");
        }
        var contract = await ContractStore.GetAsync(db, contractId, ct);
        if (contract is null || !Tenancy.Sees(caller, contract.AccountId))
        {
            return Error.NotFound("Contract", contractId);
        }
        var start = DbTime.ToDb(p.Start);
        var evaluations = await SlaStore.EvaluationsAsync(db, contractId, start, ct);
        var credits = (await SlaStore.CreditsAsync(db, contractId, start, ct)).ToDictionary(c => c.Term, StringComparer.Ordinal);
        var lines = contract.Lines.Where(l => l.Kind == OfferingKind.Compute).ToList();
        var terms = new List<SlaTermView>();
        foreach (var line in lines)
        {
            var sla = line.Sla;
            var wanted = new List<(string Term, decimal Target)> { (SlaTermNames.Availability, sla.AvailabilityPercent) };
            if (sla.CpuUtilizationPercentMax is { } cpu)
            {
                wanted.Add((SlaTermNames.CpuUtilization, cpu));
            }
            if (sla.PageFaultsPerSecondMax is { } faults)
            {
                wanted.Add((SlaTermNames.PageFaults, faults));
            }
            if (sla.IncidentResponseMinutes is { } minutes)
            {
                wanted.Add((SlaTermNames.IncidentResponse, minutes));
            }
            foreach (var (term, target) in wanted)
            {
                var e = evaluations.FirstOrDefault(r => r.Item == line.Item && r.Term == term);
                var credit = credits.GetValueOrDefault(SlaTermNames.CreditTerm(term, line.Item));
                terms.Add(new SlaTermView(term, line.Item, e is null ? target : Parse(e.Target)!.Value, Parse(e?.Measured), credit is not null,
                    Parse(credit?.CreditPercent) ?? 0m, credit?.Detail ?? e?.Detail, DbTime.FromDb(e?.EvaluatedAt)));
            }
        }
        var total = Math.Min(100m, credits.Values.Sum(c => Parse(c.CreditPercent) ?? 0m));
        return new SlaReportView(contract.Id, contract.AccountId, p.ToString(), p.Start, p.End, terms, total);
    }

    /// <summary>
    /// An operator takes up a failed machine's incident: its response time ends now. Needs
    /// fabric-write; the machine must be in error.
    /// </summary>
    public async Task<Result<MachineView>> AcknowledgeAsync(Caller caller, string machineId, CancellationToken ct)
    {
        if (!Ids.IsValid(machineId, Ids.Machine))
        {
            return Error.InvalidId(machineId, "machine");
        }
        if (Tenancy.RequireProvider(caller, Permission.FabricWrite, "Acknowledging incidents") is { } denied)
        {
            return denied;
        }
        return await db.WriteAsync<MachineView>(async tx =>
        {
            var m = await MachineStore.GetMachineAsync(tx, machineId);
            if (m is null)
            {
                return Error.NotFound("Machine", machineId);
            }
            if (m.State != MachineStore.Error)
            {
                return Error.InvalidState($"Machine '{machineId}' is {m.State}; only a machine in error has an incident to acknowledge.");
            }
            var data = new Dictionary<string, string>
            {
                ["contractId"] = m.ContractId,
                ["instanceId"] = m.InstanceId,
                ["item"] = m.ParsedConfig.Item.ToString(CultureInfo.InvariantCulture),
                ["by"] = caller.PrincipalId,
            };
            await events.AppendAsync(tx, caller, new LifecycleEvent(EventLog.Types.SlaIncidentAcknowledged, m.Id, m.AccountId, data));
            await audit.AppendAsync(tx, caller, new AuditEvent("sla.incident-acknowledge", m.Id, AuditEvent.Success, m.AccountId, $"contract={m.ContractId}"));
            return MachineStore.ToView(m);
        }, ct);
    }

    private static decimal? Parse(string? text) => text is null ? null : decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
}

public static class SlaServiceCollectionExtensions
{
    /// <summary>SLA evaluation and reports, and scaling policies (both periodic works).</summary>
    public static IServiceCollection AddSlaManagement(this IServiceCollection services, SlaOptions? sla = null, ScalingOptions? scaling = null)
    {
        services.AddSingleton(sla ?? new SlaOptions());
        services.AddSingleton(scaling ?? new ScalingOptions());
        services.AddSingleton<SlaService>();
        services.AddSingleton<ScalingPolicies>();
        services.AddPeriodicWork<SlaEvaluator>();
        services.AddPeriodicWork<ScalingWork>();
        return services;
    }
}
