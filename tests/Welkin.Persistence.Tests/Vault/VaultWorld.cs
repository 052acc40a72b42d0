using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Events;
using Welkin.Core.Jobs;
using Welkin.Core.Security;
using Welkin.Core.Vault;
using Welkin.Testing;

namespace Welkin.Persistence.Tests.Vault;

/// <summary>
/// A database with one account holding an active storage contract, and the vault services built on
/// it as the server wires them (a master key file, the audit signing key, a fake clock), each test
/// with its own directories.
/// </summary>
public sealed class VaultWorld : IAsyncDisposable
{
    private readonly string _dir;

    private VaultWorld(TestStore store, string dir)
    {
        Store = store;
        _dir = dir;
        Options = new VaultOptions { Directory = Path.Combine(dir, "vault"), ChunkBytes = 1024, MaxRecordBytes = 1024 * 1024 };
        MasterKey = FileMasterKey.LoadOrCreate(Path.Combine(dir, FileMasterKey.DefaultFileName));
        SigningKey = AuditKey.LoadOrCreate(Path.Combine(dir, "audit-signing.pem"));
        Audit = new AuditLog(Clock, SigningKey);
        Build(store.Db);
    }

    public TestStore Store { get; }

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero));

    public VaultOptions Options { get; }

    public FileMasterKey MasterKey { get; }

    public AuditKey SigningKey { get; }

    public AuditLog Audit { get; }

    public VaultKeys Keys { get; private set; } = null!;

    public VaultService Vaults { get; private set; } = null!;

    public RecordService Records { get; private set; } = null!;

    public RecordDestruction Destruction { get; private set; } = null!;

    public VaultContractResources ContractResources { get; private set; } = null!;

    public Caller Admin { get; private set; } = null!;

    public Caller Engineer { get; private set; } = null!;

    public Caller Provider { get; } = Caller.System("t");

    public string ContractId { get; private set; } = "";

    public string Directory => _dir;

    public static CancellationToken Ct => TestStore.Ct;

    public static async Task<VaultWorld> CreateAsync(string provider, PostgresCluster pg)
    {
        var store = await TestStore.CreateAsync(provider, pg);
        var world = new VaultWorld(store, System.IO.Directory.CreateTempSubdirectory("welkin-vault-").FullName);
        await world.ContractAsync();
        return world;
    }

    /// <summary>The services again over <paramref name="db"/> (a database restored from a copy), with the same master key and key store.</summary>
    public void Build(IDatabase db)
    {
        var events = new EventLog(Clock);
        Keys = new VaultKeys(db, MasterKey, Options, Clock);
        Vaults = new VaultService(db, Audit, events, Keys, Clock);
        Records = new RecordService(db, Audit, events, Keys, Options, Clock);
        Destruction = new RecordDestruction(db, Audit, events, SigningKey, Options, Clock, NullLogger<RecordDestruction>.Instance);
        ContractResources = new VaultContractResources(db, Vaults, Destruction);
    }

    public async Task<VaultView> VaultAsync(long capacityGiB = 1, bool objectLock = true) =>
        (await Vaults.CreateAsync(Admin, new CreateVaultRequest(ContractId, capacityGiB, ObjectLock: objectLock), null, Ct)).Value;

    public async Task<VaultRecordView> PutAsync(string vaultId, string key, string content, string? className = null)
    {
        var written = await Records.PutAsync(Admin, vaultId, key, className, null, new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)), Ct);
        written.Error.ShouldBeNull();
        return written.Value;
    }

    public async Task<string> ReadAsync(string vaultId, string recordId)
    {
        var opened = await Records.OpenAsync(Admin, vaultId, recordId, Ct);
        opened.Error.ShouldBeNull();
        await using var content = opened.Value.Content;
        using var reader = new StreamReader(content);
        return await reader.ReadToEndAsync(Ct);
    }

    public async Task<IReadOnlyList<string>> AuditActionsAsync(string target) =>
        (await Audit.ListAsync(Store.Db, Provider, new AuditListQuery(Limit: 1000), Ct)).Value.Items.Where(e => e.Target == target).Select(e => e.Action).ToList();

    public async ValueTask DisposeAsync()
    {
        MasterKey.Dispose();
        SigningKey.Dispose();
        await Store.DisposeAsync();
        System.IO.Directory.Delete(_dir, recursive: true);
    }

    private async Task ContractAsync()
    {
        var system = Caller.System("t");
        var signUp = (await Store.Accounts.SignUpAsync(Caller.Anonymous("t"), new SignUpRequest("vault-co", "Vault Co", new SignUpAdmin("admin")), Ct)).Value;
        (await Store.Accounts.SetLimitsAsync(system, signUp.Account.Id,
            new SetLimitsRequest(new Dictionary<string, long> { ["storage-unit"] = 10 }), Ct)).IsSuccess.ShouldBeTrue();
        var offerings = new OfferingService(Store.Db, Store.Audit, Store.Clock);
        var draft = (await offerings.CreateAsync(system, new OfferingSpec("retention", OfferingKind.Storage,
            new PricePlan("USD", "month", [new PriceRate("storage-gb-month", "gb-month", 0.02m)]), new SlaTerms(99.9m), new OfferingTerms(0, 50m), "storage-unit",
            Storage: new StorageSpec(1, 100)), Ct)).Value;
        (await offerings.PublishAsync(system, draft.Id, new OfferingTransitionRequest(), Ct)).IsSuccess.ShouldBeTrue();
        using var jobs = new JobQueue(Store.Db, Store.Clock);
        var contracts = new ContractService(Store.Db, Store.Audit, new EventLog(Store.Clock), jobs, new ContractOptions(), Store.Clock);
        Admin = Caller.For(signUp.Admin.Id, "admin", signUp.Account.Id, [Role.AccountAdmin], "t", null);
        Engineer = Caller.For("prn_engineer", "engineer", signUp.Account.Id, [Role.Engineer], "t", null);
        var proposed = (await contracts.RequestAsync(Admin, new ContractRequest([new ContractItemRequest(draft.Id, 4)]), Ct)).Value;
        ContractId = (await contracts.AcceptAsync(Admin, proposed.Id, new ContractTransitionRequest(), Ct)).Value.Id;
    }
}
