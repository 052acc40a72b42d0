namespace Welkin.Contracts;

// Data artifacts of SLA management: the server clock (real or virtual), SLA evaluation per
// billing period, and the scaling policies that keep an instance within its targets.

/// <summary>The server's clock: "real", or "virtual" in simulation mode, where only an advance moves it.</summary>
public sealed record ClockView(string Mode, DateTimeOffset Now);

/// <summary>
/// Advances the virtual clock by an ISO 8601 duration (<c>P1D</c>, <c>PT6H</c>, <c>P1M</c>) or to an
/// instant; exactly one of the two.
/// </summary>
/// <param name="Background">
/// True: answer at once (202) with a job that runs the advance and reports its progress (simulated time covered
/// out of the time asked); its result is the <see cref="ClockAdvanceView"/>. False (default): answer when the target is reached.
/// </param>
public sealed record ClockAdvanceRequest(string? By = null, DateTimeOffset? To = null, bool Background = false);

/// <param name="Ticks">Periodic-work ticks run on the way.</param>
/// <param name="Timers">Timers (driver operations and the like) that fell due on the way.</param>
public sealed record ClockAdvanceView(string Mode, DateTimeOffset From, DateTimeOffset Now, int Ticks, int Timers);

/// <summary>One SLA term of a contract line in one billing period.</summary>
/// <param name="Term">availability, cpu-utilization, page-faults or incident-response.</param>
/// <param name="Target">Availability: the percent promised (at least). CPU and page faults: the maximum. Incident response: minutes.</param>
/// <param name="Measured">The value measured so far: availability percent, the highest window mean, the longest response in minutes; null when nothing was measured.</param>
/// <param name="Breached">True once the term was breached in the period (a credit was granted).</param>
/// <param name="CreditPercent">The credit granted for the term (percent of the contract's charges of the period).</param>
public sealed record SlaTermView(
    string Term,
    int Item,
    decimal Target,
    decimal? Measured,
    bool Breached,
    decimal CreditPercent,
    string? Detail,
    DateTimeOffset? Evaluated);

/// <param name="Period">The billing period, a calendar month in UTC (<c>2026-11</c>).</param>
/// <param name="CreditPercent">The sum of the terms' credits, capped at 100.</param>
public sealed record SlaReportView(
    string ContractId,
    string AccountId,
    string Period,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    IReadOnlyList<SlaTermView> Terms,
    decimal CreditPercent);

/// <summary>
/// A scaling policy of an instance (Table 1: the SLA management system): keep between
/// <paramref name="MinActive"/> and <paramref name="MaxActive"/> machines running, deactivating one
/// when the mean CPU utilization over the window is below <paramref name="CpuLowPercent"/> and
/// activating one when it is above <paramref name="CpuHighPercent"/>, at most one action per cooldown.
/// </summary>
/// <param name="Name">Names the policy's actions in the audit log (default: the instance's name).</param>
/// <param name="Version">Guards a change against a stale read of the policy.</param>
public sealed record ScalingPolicyRequest(
    int MinActive,
    int MaxActive,
    decimal CpuLowPercent,
    decimal CpuHighPercent,
    int WindowMinutes = 15,
    int CooldownMinutes = 30,
    string? Name = null,
    long? Version = null);

/// <param name="Actor">The principal id its actions are audited under (<c>scaling-policy:&lt;instance&gt;</c>).</param>
/// <param name="LastAction">What the policy last did (e.g. "stopped mch_...: cpu 12.5 % below 20 %").</param>
public sealed record ScalingPolicyView(
    string InstanceId,
    string AccountId,
    string Name,
    string Actor,
    int MinActive,
    int MaxActive,
    decimal CpuLowPercent,
    decimal CpuHighPercent,
    int WindowMinutes,
    int CooldownMinutes,
    string? LastAction,
    DateTimeOffset? LastActionAt,
    DateTimeOffset? LastEvaluated,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated);
