using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

public sealed class AccountServiceTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task SetLimits_TwoConcurrentWithTheSameVersion_ExactlyOneSucceeds(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (account, admin) = await SignUpAsync(store, "race");
        var version = account.Version;

        // Several rounds, so that on at least some of them the two requests really overlap.
        for (var round = 1; round <= 8; round++)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => Task.Run(() => store.Accounts.SetLimitsAsync(admin, account.Id,
                new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = round * 2 + i }, version), TestStore.Ct), TestStore.Ct)));

            results.Count(r => r.IsSuccess).ShouldBe(1, $"round {round}");
            var loser = results.Single(r => !r.IsSuccess).Error!;
            loser.Kind.ShouldBeOneOf(ErrorKind.PreconditionFailed, ErrorKind.Conflict);
            loser.Code.ShouldBeOneOf("precondition-failed", "concurrency-conflict");
            var winner = results.Single(r => r.IsSuccess).Value;
            winner.Version.ShouldBe(version + 1);
            var stored = (await store.Accounts.GetAsync(admin, account.Id, TestStore.Ct)).Value;
            stored.Version.ShouldBe(version + 1);
            stored.Limits.ShouldBe(winner.Limits);
            version = stored.Version;
        }
        var audited = await store.Audit.ListAsync(store.Db, account.Id, null, 100, TestStore.Ct);
        audited.Items.Count(e => e.Action == "account.set-limits").ShouldBe(8);
        (await store.Audit.VerifyAsync(store.Db, TestStore.Ct)).Valid.ShouldBeTrue();
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task SetLimits_WithAStaleVersion_ReturnsPreconditionFailedAndChangesNothing(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var (account, admin) = await SignUpAsync(store, "stale");
        var limits = new Dictionary<string, long> { ["compute-unit"] = 4, ["storage-unit"] = 10 };
        (await store.Accounts.SetLimitsAsync(admin, account.Id, new SetLimitsRequest(limits, account.Version), TestStore.Ct)).IsSuccess.ShouldBeTrue();

        var stale = await store.Accounts.SetLimitsAsync(admin, account.Id,
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 99 }, account.Version), TestStore.Ct);

        stale.Error.ShouldNotBeNull().Kind.ShouldBe(ErrorKind.PreconditionFailed);
        var stored = (await store.Accounts.GetAsync(admin, account.Id, TestStore.Ct)).Value;
        stored.Version.ShouldBe(account.Version + 1);
        stored.Limits.ShouldBe(limits);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task SignUp_TwoConcurrentWithTheSameName_OneGetsNameTaken(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);

        for (var round = 0; round < 5; round++)
        {
            var name = $"twin-{round}";
            var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => store.Accounts.SignUpAsync(Caller.Anonymous("t"),
                new SignUpRequest(name, "Twin", new SignUpAdmin("admin")), TestStore.Ct), TestStore.Ct)));

            results.Count(r => r.IsSuccess).ShouldBe(1);
            results.Single(r => !r.IsSuccess).Error!.Code.ShouldBe("name-taken");
        }
        var all = await store.Accounts.ListAsync(Caller.System("t"), new AccountListQuery(), TestStore.Ct);
        all.Value.Items.Select(a => a.Name).ShouldBe(["twin-0", "twin-1", "twin-2", "twin-3", "twin-4"], ignoreOrder: true);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task List_AsProviderAndAsAccount_PagesAndConfines(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var created = new List<AccountView>();
        for (var i = 0; i < 3; i++)
        {
            created.Add((await SignUpAsync(store, $"list{i}")).Account);
        }
        var (own, admin) = await SignUpAsync(store, "mine");

        var first = (await store.Accounts.ListAsync(Caller.System("t"), new AccountListQuery(Limit: 2), TestStore.Ct)).Value;
        var rest = (await store.Accounts.ListAsync(Caller.System("t"), new AccountListQuery(first.Next, 10), TestStore.Ct)).Value;
        var asAccount = (await store.Accounts.ListAsync(admin, new AccountListQuery(Limit: 10), TestStore.Ct)).Value;

        first.Items.Count.ShouldBe(2);
        first.Next.ShouldNotBeNull();
        first.Items.Concat(rest.Items).Select(a => a.Id).ShouldBe(created.Append(own).Select(a => a.Id).Order(StringComparer.Ordinal));
        rest.Next.ShouldBeNull();
        asAccount.Items.Select(a => a.Id).ShouldBe([own.Id]);
    }

    internal static async Task<(AccountView Account, Caller Admin)> SignUpAsync(TestStore store, string prefix, string? password = null)
    {
        var name = $"{prefix}-{Guid.NewGuid():n}"[..(prefix.Length + 9)];
        var signUp = (await store.Accounts.SignUpAsync(Caller.Anonymous("t"),
            new SignUpRequest(name, prefix, new SignUpAdmin("admin", null, password)), TestStore.Ct)).Value;
        var admin = Caller.For(signUp.Admin.Id, signUp.Admin.Name, signUp.Account.Id, signUp.Admin.Roles, "t", signUp.Token.Id);
        return (signUp.Account, admin);
    }
}
