using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

public sealed class AuditLogTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    private static readonly Caller Tester = Caller.System("audit-test");

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Verify_AfterAppends_IsValidAndReportsTheLastHash(string provider)
    {
        await using var store = await AppendedAsync(provider, 3);

        var verification = await store.Audit.VerifyAsync(store.Db, TestStore.Ct);

        verification.Valid.ShouldBeTrue(verification.Problem);
        verification.Entries.ShouldBe(3);
        verification.FirstInvalidSeq.ShouldBeNull();
        var page = await store.Audit.ListAsync(store.Db, null, null, 10, TestStore.Ct);
        page.Items.Select(e => e.Seq).ShouldBe([1L, 2L, 3L]);
        page.Items.Select(e => e.Target).ShouldBe(["target-1", "target-2", "target-3"]);
        verification.HeadHash.ShouldBe(page.Items[^1].Hash);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task List_ByAccount_ReturnsOnlyThatAccountsEntries(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        await store.Audit.AppendAsync(store.Db, Tester, new AuditEvent("a.one", "t1", AuditEvent.Success, "acc_a"), TestStore.Ct);
        await store.Audit.AppendAsync(store.Db, Tester, new AuditEvent("a.two", "t2", AuditEvent.Success, "acc_b"), TestStore.Ct);
        await store.Audit.AppendAsync(store.Db, Tester, new AuditEvent("a.three", "t3", AuditEvent.Denied, "acc_a", "why"), TestStore.Ct);

        var onlyA = await store.Audit.ListAsync(store.Db, "acc_a", null, 10, TestStore.Ct);
        var afterFirst = await store.Audit.ListAsync(store.Db, null, 1, 1, TestStore.Ct);

        onlyA.Items.Select(e => e.Action).ShouldBe(["a.one", "a.three"]);
        onlyA.Items[1].Detail.ShouldBe("why");
        afterFirst.Items.Single().Seq.ShouldBe(2);
        afterFirst.Next.ShouldBe("2");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Verify_WhenAnEntrysDetailWasUpdated_ReportsThatEntry(string provider)
    {
        await using var store = await AppendedAsync(provider, 4);
        await store.Db.WriteAsync<int>(async tx => await tx.ExecuteAsync("UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 2"), TestStore.Ct);

        var verification = await store.Audit.VerifyAsync(store.Db, TestStore.Ct);

        verification.Valid.ShouldBeFalse();
        verification.FirstInvalidSeq.ShouldBe(2);
        verification.Problem.ShouldNotBeNull().ShouldContain("altered");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Verify_WhenAMiddleEntryWasDeleted_ReportsItMissing(string provider)
    {
        await using var store = await AppendedAsync(provider, 4);
        await store.Db.WriteAsync<int>(async tx => await tx.ExecuteAsync("DELETE FROM audit_log WHERE seq = 2"), TestStore.Ct);

        var verification = await store.Audit.VerifyAsync(store.Db, TestStore.Ct);

        verification.Valid.ShouldBeFalse();
        verification.FirstInvalidSeq.ShouldBe(2);
        verification.Entries.ShouldBe(1);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Verify_WhenTheLastEntryWasDeleted_ReportsTheHeadMismatch(string provider)
    {
        await using var store = await AppendedAsync(provider, 4);
        await store.Db.WriteAsync<int>(async tx => await tx.ExecuteAsync("DELETE FROM audit_log WHERE seq = 4"), TestStore.Ct);

        var verification = await store.Audit.VerifyAsync(store.Db, TestStore.Ct);

        verification.Valid.ShouldBeFalse();
        verification.Entries.ShouldBe(3);
        verification.FirstInvalidSeq.ShouldBe(4);
        verification.Problem.ShouldNotBeNull().ShouldContain("removed");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Append_FiftyConcurrently_ChainsFiftySequentialEntries(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);

        await Task.WhenAll(Enumerable.Range(1, 50).Select(i => Task.Run(
            () => store.Audit.AppendAsync(store.Db, Tester, new AuditEvent("test.append", $"target-{i}", AuditEvent.Success, null), TestStore.Ct),
            TestStore.Ct)));

        var verification = await store.Audit.VerifyAsync(store.Db, TestStore.Ct);
        verification.Valid.ShouldBeTrue(verification.Problem);
        verification.Entries.ShouldBe(50);
        var entries = (await store.Audit.ListAsync(store.Db, null, null, 100, TestStore.Ct)).Items;
        entries.Select(e => e.Seq).ShouldBe(Enumerable.Range(1, 50).Select(i => (long)i));
        entries.Select(e => e.Target).Order(StringComparer.Ordinal)
            .ShouldBe(Enumerable.Range(1, 50).Select(i => $"target-{i}").Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Verify_WhileAppendsAreCommitting_IsAlwaysValid(string provider)
    {
        await using var store = await AppendedAsync(provider, 5);
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await store.Audit.AppendAsync(store.Db, Tester, new AuditEvent("test.append", $"w{w}-{i}", AuditEvent.Success, null), TestStore.Ct);
            }
        }, TestStore.Ct)).ToList();

        var verifications = new List<AuditVerification>();
        while (writers.Any(w => !w.IsCompleted))
        {
            verifications.Add(await store.Audit.VerifyAsync(store.Db, TestStore.Ct));
        }
        await Task.WhenAll(writers);
        verifications.Add(await store.Audit.VerifyAsync(store.Db, TestStore.Ct));

        verifications.ShouldAllBe(v => v.Valid);
        verifications[^1].Entries.ShouldBe(105);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Insert_WithASequenceNumberBelowOne_IsRefusedByTheSchema(string provider)
    {
        await using var store = await AppendedAsync(provider, 1);

        foreach (var seq in new[] { 0L, -1L })
        {
            await Should.ThrowAsync<System.Data.Common.DbException>(() => store.Db.WriteAsync<int>(
                async tx => await tx.ExecuteAsync(InsertBelowOne, new { Seq = seq }), TestStore.Ct));
        }
        (await store.Audit.VerifyAsync(store.Db, TestStore.Ct)).Valid.ShouldBeTrue();
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Verify_WhenRowsBelowOneGotPastADroppedConstraint_CountsThem(string provider)
    {
        await using var store = await AppendedAsync(provider, 2);
        await store.Db.WriteAsync<int>(async tx =>
        {
            await tx.ExecuteAsync(provider == TestStore.Postgres
                ? "ALTER TABLE audit_log DROP CONSTRAINT audit_log_seq_positive"
                : "PRAGMA ignore_check_constraints = ON");
            await tx.ExecuteAsync(InsertBelowOne, new { Seq = 0L });
            await tx.ExecuteAsync(InsertBelowOne, new { Seq = -1L });
            return await tx.ExecuteAsync(provider == TestStore.Postgres ? "SELECT 1" : "PRAGMA ignore_check_constraints = OFF");
        }, TestStore.Ct);

        var verification = await store.Audit.VerifyAsync(store.Db, TestStore.Ct);

        verification.Valid.ShouldBeFalse();
        verification.Entries.ShouldBe(2);
        var finding = verification.Findings.ShouldHaveSingleItem();
        finding.Code.ShouldBe("sequence-below-one");
        finding.Detail.ShouldContain("2 entries with sequence number 0 or less are present (lowest -1)");
    }

    private const string InsertBelowOne = """
        INSERT INTO audit_log (seq, at, actor, account_id, action, target, outcome, detail, correlation_id, prev_hash, hash)
        VALUES (@Seq, 0, 'dba', NULL, 'x', 'x', 'success', NULL, 'x', 'x', 'x')
        """;

    private async Task<TestStore> AppendedAsync(string provider, int count)
    {
        var store = await TestStore.CreateAsync(provider, pg);
        for (var i = 1; i <= count; i++)
        {
            await store.Audit.AppendAsync(store.Db, Tester, new AuditEvent("test.append", $"target-{i}", AuditEvent.Success, null, $"entry {i}"), TestStore.Ct);
        }
        return store;
    }
}
