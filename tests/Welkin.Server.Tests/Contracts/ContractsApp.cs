using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Contracts;

/// <summary>A <see cref="WelkinApp"/> on a fake clock, so proposals expire when a test says so.</summary>
public sealed class ContractsApp : WelkinApp
{
    public FakeTimeProvider Clock { get; } = new();

    // The background sweeper runs rarely here; tests expire proposals by accepting late or by calling the sweep.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Contracts:SweepInterval"] = "01:00:00" };

    protected override TimeProvider ServerClock => Clock;
}
