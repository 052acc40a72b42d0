using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Core.Tests.Compute;

/// <summary>The order of a live move between fabrics, and that a destination which will not get the machine is always cleaned up.</summary>
public sealed class CrossFabricMigrationTests
{
    private static readonly MigrationTls Tls = new("ca.pem", "cert.pem", "key.pem", null);
    private static readonly DriverMachine Arrived = new("mch_1", "b-1", DriverMachineState.Running, 1, 256, [], []);

    [Fact]
    public async Task Move_PreparesTheDestination_SendsTheMachine_AndTheSourceResumesItThere()
    {
        var (source, target) = (new Source(), new Target());

        var moved = await CrossFabricMigration.MoveAsync(source, target, "mch_1", "b-1", Tls, Tls, null, TestContext.Current.CancellationToken);

        moved.Value.Machine.ShouldBe(Arrived);
        target.Calls.ShouldBe(["prepare mch_1 on b-1", "resume mch_1"]);
    }

    [Fact]
    public async Task Move_WhenTheSourceFails_AbortsTheDestination_AndReturnsTheSourcesError()
    {
        var failure = DriverErrors.HypervisorFailed("mch_1", HypervisorFailure.Migration, "certificate refused");
        var (source, target) = (new Source { Failure = failure }, new Target());

        var moved = await CrossFabricMigration.MoveAsync(source, target, "mch_1", "b-1", Tls, Tls, null, TestContext.Current.CancellationToken);

        moved.Error.ShouldBe(failure);
        target.Calls.ShouldBe(["prepare mch_1 on b-1", "abort mch_1"]);
    }

    [Fact]
    public async Task Move_WhenTheSourceThrows_AbortsTheDestination()
    {
        var (source, target) = (new Source { Throws = true }, new Target());

        await Should.ThrowAsync<OperationCanceledException>(() =>
            CrossFabricMigration.MoveAsync(source, target, "mch_1", "b-1", Tls, Tls, null, TestContext.Current.CancellationToken));

        target.Calls.ShouldBe(["prepare mch_1 on b-1", "abort mch_1"]);
    }

    [Fact]
    public async Task Move_WhenTheDestinationCannotPrepare_NeverTouchesTheSource()
    {
        var refused = DriverErrors.HostUnavailable("b-1");
        var (source, target) = (new Source(), new Target { Refusal = refused });

        var moved = await CrossFabricMigration.MoveAsync(source, target, "mch_1", "b-1", Tls, Tls, null, TestContext.Current.CancellationToken);

        moved.Error.ShouldBe(refused);
        source.Sent.ShouldBeFalse();
    }

    private sealed class Source : ILiveMigrationSource
    {
        public Error? Failure { get; init; }

        public bool Throws { get; init; }

        public bool Sent { get; private set; }

        public Task<Result<OutgoingMachine>> DescribeOutgoingAsync(string machineId, CancellationToken ct) =>
            Task.FromResult<Result<OutgoingMachine>>(new OutgoingMachine(
                new MachineSpec(machineId, "acc_1", "a-1", 1, 256, 1, null, null, new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []),
                [new MigrationDisk("root", 1 << 30)], true, new Dictionary<string, string>()));

        public async Task<Result<LiveMigrationReport>> MigrateOutAsync(
            string machineId, IncomingMachine target, MigrationTls tls, Func<CancellationToken, Task<Result<DriverMachine>>> resumeAtTarget,
            IProgress<int>? progress, CancellationToken ct)
        {
            Sent = true;
            if (Throws)
            {
                throw new OperationCanceledException();
            }
            if (Failure is not null)
            {
                return Failure;
            }
            var resumed = await resumeAtTarget(ct);
            return new LiveMigrationReport(resumed.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200), 1 << 30, 80 << 20);
        }
    }

    private sealed class Target : ILiveMigrationTarget
    {
        public Error? Refusal { get; init; }

        public List<string> Calls { get; } = [];

        public Task<Result<IncomingMachine>> PrepareIncomingAsync(OutgoingMachine machine, string host, MigrationTls tls, CancellationToken ct)
        {
            Calls.Add($"prepare {machine.Spec.MachineId} on {host}");
            return Task.FromResult<Result<IncomingMachine>>(Refusal is not null
                ? Refusal
                : new IncomingMachine(machine.Spec.MachineId, "127.0.0.1", 10809, 4444, new Dictionary<string, string> { ["root"] = "mch_1-root" }));
        }

        public Task<Result<DriverMachine>> ResumeIncomingAsync(string machineId, CancellationToken ct)
        {
            Calls.Add("resume " + machineId);
            return Task.FromResult<Result<DriverMachine>>(Arrived);
        }

        public Task<Result<bool>> AbortIncomingAsync(string machineId, CancellationToken ct)
        {
            Calls.Add("abort " + machineId);
            return Task.FromResult<Result<bool>>(true);
        }
    }
}
