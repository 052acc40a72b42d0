using Welkin.Core.Common;
using Welkin.Core.Compute;

namespace Welkin.Core.Tests.Compute;

/// <summary>The per-machine rules every driver shares, checked on the table alone with a machine that is only a record.</summary>
public sealed class MachineTableTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Machine(MachineSpec spec)
    {
        public MachineSpec Spec { get; } = spec;

        public DriverMachineState State { get; set; } = DriverMachineState.Creating;
    }

    private static MachineTable<Machine> NewTable(Func<Machine, Error?>? refuse = null) =>
        new(m => m.Spec, m => new DriverMachine(m.Spec.MachineId, m.Spec.Host, m.State, m.Spec.Vcpus, m.Spec.MemoryMiB, [], []), refuse: refuse);

    private static MachineSpec Spec(string id = "mch_1", int vcpus = 1) =>
        new(id, "acc_1", "host-a", vcpus, 512, 10, null, null, new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);

    private static Result<DriverMachine> Running(MachineTable<Machine> table, Machine machine)
    {
        lock (table.Gate)
        {
            machine.State = DriverMachineState.Running;
        }
        return table.Describe(machine.Spec.MachineId)!;
    }

    private static async Task<Result<DriverMachine>> CreateAsync(MachineTable<Machine> table, MachineSpec spec, Func<Machine, Task<Result<DriverMachine>>>? build = null) =>
        await table.CreateAsync(spec, () => new Machine(spec), build ?? (m => Task.FromResult(Running(table, m))), null, Ct);

    [Fact]
    public async Task ConcurrentCreates_OfOneId_BuildOnce_AndAllAnswerWithTheMachine()
    {
        var table = NewTable();
        var builds = 0;
        var release = new TaskCompletionSource();
        async Task<Result<DriverMachine>> BuildAsync(Machine m)
        {
            Interlocked.Increment(ref builds);
            await release.Task;
            return Running(table, m);
        }

        var creates = Enumerable.Range(0, 5).Select(_ => Task.Run(() => CreateAsync(table, Spec(), BuildAsync), Ct)).ToList();
        await WaitUntilAsync(() => Volatile.Read(ref builds) == 1);
        await Task.Delay(50, Ct);
        creates.ShouldAllBe(c => !c.IsCompleted);
        release.SetResult();
        var results = await Task.WhenAll(creates).WaitAsync(Patience, Ct);

        builds.ShouldBe(1);
        results.ShouldAllBe(r => r.IsSuccess && r.Value.State == DriverMachineState.Running);
    }

    [Fact]
    public async Task Create_WithADifferentSpec_IsRefusedWithInvalidState_AndBuildsNothing()
    {
        var table = NewTable();
        (await CreateAsync(table, Spec())).IsSuccess.ShouldBeTrue();
        var built = false;

        var again = await CreateAsync(table, Spec(vcpus: 2), m =>
        {
            built = true;
            return Task.FromResult(Running(table, m));
        });

        again.Error!.Code.ShouldBe("invalid-state");
        built.ShouldBeFalse();
    }

    [Fact]
    public async Task Create_WhenAdmitRefuses_ReturnsItsError_AndTheTableStaysEmpty()
    {
        var table = NewTable();

        var refused = await table.CreateAsync(Spec(), () => DriverErrors.HostUnavailable("host-a"), _ => throw new InvalidOperationException("not built"), null, Ct);

        refused.Error!.Code.ShouldBe("host-unavailable");
        table.Find("mch_1").ShouldBeNull();
    }

    [Fact]
    public async Task Create_RetriedWhileTheFirstIsCancelled_BuildsTheMachineAgain()
    {
        var table = NewTable();
        var builds = 0;
        var firstStarted = new TaskCompletionSource();
        var cancelFirst = new TaskCompletionSource();
        async Task<Result<DriverMachine>> BuildAsync(Machine m)
        {
            if (Interlocked.Increment(ref builds) == 1)
            {
                firstStarted.SetResult();
                await cancelFirst.Task;
                // A cancelled create leaves nothing behind.
                table.Remove(m);
                throw new OperationCanceledException();
            }
            return Running(table, m);
        }

        var first = Task.Run(() => CreateAsync(table, Spec(), BuildAsync), Ct);
        await firstStarted.Task.WaitAsync(Patience, Ct);
        var retry = Task.Run(() => CreateAsync(table, Spec(), BuildAsync), Ct);
        await Task.Delay(50, Ct);
        retry.IsCompleted.ShouldBeFalse();
        cancelFirst.SetResult();

        await Should.ThrowAsync<OperationCanceledException>(() => first);
        var retried = await retry.WaitAsync(Patience, Ct);
        retried.Error.ShouldBeNull();
        retried.Value.State.ShouldBe(DriverMachineState.Running);
        builds.ShouldBe(2);
    }

    [Fact]
    public async Task Operation_OnAMachineDestroyedWhileItWaited_AnswersMachineNotFound()
    {
        var table = NewTable();
        await CreateAsync(table, Spec());
        var destroying = new TaskCompletionSource();
        var finishDestroy = new TaskCompletionSource();
        var destroy = table.DestroyAsync("mch_1", async m =>
        {
            destroying.SetResult();
            await finishDestroy.Task;
            table.Remove(m);
            return true;
        }, Ct);
        await destroying.Task.WaitAsync(Patience, Ct);
        var ran = false;

        var operation = table.OperateAsync<bool>("mch_1", _ =>
        {
            ran = true;
            return Task.FromResult<Result<bool>>(true);
        }, Ct);
        await Task.Delay(50, Ct);
        operation.IsCompleted.ShouldBeFalse();
        finishDestroy.SetResult();

        (await destroy).Value.ShouldBeTrue();
        (await operation.WaitAsync(Patience, Ct)).Error!.Code.ShouldBe("machine-not-found");
        ran.ShouldBeFalse();
        (await table.OperateAsync<bool>("mch_1", _ => Task.FromResult<Result<bool>>(true), Ct)).Error!.Code.ShouldBe("machine-not-found");
    }

    [Fact]
    public async Task Destroy_OfAMissingMachine_Succeeds_WithoutRunningTheDestroyStep()
    {
        var table = NewTable();

        var destroyed = await table.DestroyAsync("mch_none", _ => throw new InvalidOperationException("nothing to destroy"), Ct);

        destroyed.Value.ShouldBeTrue();
    }

    [Fact]
    public async Task Operations_OnOneMachine_RunOneAtATime_WhileOperationsOnTwoMachinesOverlap()
    {
        var table = NewTable();
        await CreateAsync(table, Spec("mch_a"));
        await CreateAsync(table, Spec("mch_b"));
        var inside = new Dictionary<string, int>(StringComparer.Ordinal) { ["mch_a"] = 0, ["mch_b"] = 0 };
        var most = new Dictionary<string, int>(StringComparer.Ordinal) { ["mch_a"] = 0, ["mch_b"] = 0 };
        var bothInside = new TaskCompletionSource();
        async Task<Result<bool>> OperationAsync(Machine m)
        {
            var id = m.Spec.MachineId;
            lock (inside)
            {
                inside[id]++;
                most[id] = Math.Max(most[id], inside[id]);
                if (inside["mch_a"] > 0 && inside["mch_b"] > 0)
                {
                    bothInside.TrySetResult();
                }
            }
            // Each operation stays until it has met one on the other machine (or gives up), so one at a time per machine shows as a maximum of 1.
            await Task.WhenAny(bothInside.Task, Task.Delay(TimeSpan.FromSeconds(2), Ct));
            await Task.Delay(10, Ct);
            lock (inside)
            {
                inside[id]--;
            }
            return true;
        }

        var operations = new[] { "mch_a", "mch_a", "mch_a", "mch_b", "mch_b" }
            .Select(id => Task.Run(() => table.OperateAsync<bool>(id, OperationAsync, Ct), Ct)).ToList();
        var results = await Task.WhenAll(operations).WaitAsync(Patience, Ct);

        results.ShouldAllBe(r => r.IsSuccess);
        most["mch_a"].ShouldBe(1);
        most["mch_b"].ShouldBe(1);
        bothInside.Task.IsCompleted.ShouldBeTrue("operations on two machines never overlapped");
    }

    [Fact]
    public async Task Operation_TheDriverRefuses_IsNotRun_ButDestroyStillIs()
    {
        var table = NewTable(refuse: m => DriverErrors.HostUnavailable(m.Spec.Host));
        await CreateAsync(table, Spec());

        var refused = await table.OperateAsync<bool>("mch_1", _ => throw new InvalidOperationException("refused operations do not run"), Ct);
        var destroyed = await table.DestroyAsync("mch_1", m => Task.FromResult<Result<bool>>(table.Remove(m)), Ct);

        refused.Error!.Code.ShouldBe("host-unavailable");
        destroyed.Value.ShouldBeTrue();
        table.Find("mch_1").ShouldBeNull();
    }

    [Fact]
    public async Task MachineAddedHeld_MakesOperationsAndARepeatedCreateWait_UntilTheHoldEnds()
    {
        var table = NewTable();
        var machine = new Machine(Spec());
        var hold = table.TryAddHeld(machine)!;
        table.TryAddHeld(new Machine(Spec())).ShouldBeNull();

        var operation = table.OperateAsync<bool>("mch_1", _ => Task.FromResult<Result<bool>>(true), Ct);
        var create = CreateAsync(table, Spec(), _ => throw new InvalidOperationException("the machine exists"));
        await Task.Delay(50, Ct);
        operation.IsCompleted.ShouldBeFalse();
        create.IsCompleted.ShouldBeFalse();
        Running(table, machine);
        hold.Dispose();

        (await operation.WaitAsync(Patience, Ct)).Value.ShouldBeTrue();
        (await create.WaitAsync(Patience, Ct)).Value.State.ShouldBe(DriverMachineState.Running);
    }

    [Fact]
    public void Machines_ReadWithoutTheGate_Throws()
    {
        var table = NewTable();

        Should.Throw<InvalidOperationException>(() => table.Machines);
        lock (table.Gate)
        {
            table.Machines.ShouldBeEmpty();
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = TimeProvider.System.GetUtcNow() + Patience;
        while (!condition())
        {
            TimeProvider.System.GetUtcNow().ShouldBeLessThan(deadline);
            await Task.Delay(5, Ct);
        }
    }
}
