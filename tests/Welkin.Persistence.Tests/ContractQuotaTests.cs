using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Contracts;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Security;
using Welkin.Testing;

namespace Welkin.Persistence.Tests;

public sealed class ContractQuotaTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Request_HundredConcurrentForTheLastUnits_NeverPassesTheLimit(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider, pg);
        var system = Caller.System("t");
        var signUp = (await store.Accounts.SignUpAsync(Caller.Anonymous("t"), new SignUpRequest("racers", "Racers", new SignUpAdmin("admin")), TestStore.Ct)).Value;
        (await store.Accounts.SetLimitsAsync(system, signUp.Account.Id,
            new SetLimitsRequest(new Dictionary<string, long> { ["storage-unit"] = 30 }), TestStore.Ct)).IsSuccess.ShouldBeTrue();
        var offerings = new OfferingService(store.Db, store.Audit, store.Clock);
        var draft = (await offerings.CreateAsync(system, new OfferingSpec("disk", OfferingKind.Storage,
            new PricePlan("USD", "month", [new PriceRate("storage-tb-day", "tb-day", 5m)]), new SlaTerms(99.9m), new OfferingTerms(0, 50m), "storage-unit",
            Storage: new StorageSpec(100, 10_000)), TestStore.Ct)).Value;
        (await offerings.PublishAsync(system, draft.Id, new OfferingTransitionRequest(), TestStore.Ct)).IsSuccess.ShouldBeTrue();
        using var jobs = new JobQueue(store.Db, store.Clock);
        var contracts = new ContractService(store.Db, store.Audit, new EventLog(store.Clock), jobs, new ContractOptions(), store.Clock);
        var admin = Caller.For(signUp.Admin.Id, "admin", signUp.Account.Id, [Role.AccountAdmin], "t", null);
        (await contracts.RequestAsync(admin, new ContractRequest([new ContractItemRequest(draft.Id, 25)]), TestStore.Ct)).IsSuccess.ShouldBeTrue();

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(() =>
            contracts.RequestAsync(admin, new ContractRequest([new ContractItemRequest(draft.Id, 1)]), TestStore.Ct), TestStore.Ct)));

        results.Count(r => r.IsSuccess).ShouldBe(5);
        results.Where(r => !r.IsSuccess).Select(r => r.Error!.Code).Distinct().ShouldBe(["quota-exceeded"]);
        var quota = (await contracts.QuotasAsync(admin, signUp.Account.Id, TestStore.Ct)).Value.Single(q => q.Unit == "storage-unit");
        quota.ShouldBe(new QuotaView("storage-unit", 30, 30, 0));
        var listed = (await contracts.ListAsync(admin, new ContractListQuery("proposed", Limit: 500), TestStore.Ct)).Value;
        listed.Items.Sum(c => c.Items.Sum(i => i.Units)).ShouldBe(30);
    }
}
