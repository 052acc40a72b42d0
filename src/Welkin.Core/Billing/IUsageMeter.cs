namespace Welkin.Core.Billing;

/// <summary>
/// The meter as invoicing needs it: before an invoice is rated, every usage slice ending at or
/// before the period's end must be in <c>usage_records</c>. The metering capability registers
/// its meter as this interface; without one (a build without metering, or tests that write usage
/// rows themselves) <see cref="NoUsageMeter"/> does nothing.
/// </summary>
public interface IUsageMeter
{
    /// <summary>Materialises every usage slice ending at or before <paramref name="upTo"/>; idempotent.</summary>
    Task CatchUpAsync(DateTimeOffset upTo, CancellationToken ct);
}

public sealed class NoUsageMeter : IUsageMeter
{
    public Task CatchUpAsync(DateTimeOffset upTo, CancellationToken ct) => Task.CompletedTask;
}
