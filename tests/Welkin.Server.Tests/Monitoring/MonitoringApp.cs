using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Welkin.Core.Common;
using Welkin.Core.Monitoring;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Monitoring;

/// <summary>
/// An <see cref="InstancesApp"/> on a clock that moves only when the test moves it, without the
/// periodic-work host: the test runs each collection tick itself, so samples fall exactly where it says.
/// </summary>
public sealed class MonitoringApp : InstancesApp
{
    public FakeTimeProvider Clock { get; } = new();

    public MeasurementCollector Collector => Services.GetRequiredService<MeasurementCollector>();

    public MeasurementPruner Pruner => Services.GetRequiredService<MeasurementPruner>();

    /// <summary>Runs one collection tick at the clock's current time.</summary>
    public Task TickAsync() => Collector.RunAsync(Clock.GetUtcNow(), TestContext.Current.CancellationToken);

    protected override TimeProvider ServerClock => Clock;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            var host = services.Single(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(PeriodicWorkHost));
            services.Remove(host);
        });
    }
}
