using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Welkin.Core.Common;

/// <summary>
/// Work the server runs on a fixed interval of its clock (<see cref="TimeProvider"/>): measurement
/// collection, SLA evaluation, scaling policies, metering. Ticks fall on whole multiples of
/// <see cref="Interval"/> since the Unix epoch, so two servers, or a real and a virtual clock,
/// tick at the same instants.
/// </summary>
public interface IPeriodicWork
{
    string Name { get; }

    TimeSpan Interval { get; }

    /// <summary>
    /// Runs the tick due at <paramref name="now"/>. An ordinary failure (database busy, a driver
    /// error) is logged by the host and the next tick runs as usual, so a work must be
    /// idempotent over the ticks it missed.
    /// </summary>
    Task RunAsync(DateTimeOffset now, CancellationToken ct);
}

public static class PeriodicWorkExtensions
{
    /// <summary>Registers <typeparamref name="T"/> as a singleton and as periodic work, and the host that runs it.</summary>
    public static IServiceCollection AddPeriodicWork<T>(this IServiceCollection services)
        where T : class, IPeriodicWork
    {
        services.TryAddSingleton<T>();
        services.AddSingleton<IPeriodicWork>(sp => sp.GetRequiredService<T>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PeriodicWorkHost>());
        return services;
    }

    /// <summary>The first tick strictly after <paramref name="now"/>.</summary>
    public static DateTimeOffset NextTick(DateTimeOffset now, TimeSpan interval)
    {
        var ms = (long)interval.TotalMilliseconds;
        var t = now.ToUnixTimeMilliseconds();
        return DateTimeOffset.FromUnixTimeMilliseconds((t / ms + 1) * ms);
    }
}

/// <summary>
/// Runs every <see cref="IPeriodicWork"/> on the server's clock, each in a loop of its own. Under a
/// virtual clock it does nothing: the simulation's advance runs the ticks itself, in time order.
/// </summary>
public sealed class PeriodicWorkHost(IEnumerable<IPeriodicWork> works, TimeProvider clock, ILogger<PeriodicWorkHost> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        clock is Clock.VirtualClock ? Task.CompletedTask : Task.WhenAll(works.Select(w => RunLoopAsync(w, stoppingToken)));

    private async Task RunLoopAsync(IPeriodicWork work, CancellationToken ct)
    {
        if (work.Interval <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"Periodic work {work.Name} has no interval.");
        }
        while (!ct.IsCancellationRequested)
        {
            var next = PeriodicWorkExtensions.NextTick(clock.GetUtcNow(), work.Interval);
            try
            {
                var wait = next - clock.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, clock, ct);
                }
                await work.RunAsync(next, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Periodic work {Work} failed at {Tick}; the next tick runs as usual", work.Name, next);
            }
        }
    }
}
