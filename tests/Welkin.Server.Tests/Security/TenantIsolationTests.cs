using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Security;

/// <summary>
/// A principal of one account can never read, list, change or learn the existence of another
/// account's resources: a foreign id answers exactly as an id that does not exist. Driven by
/// <see cref="IsolationTable"/>.
/// </summary>
public sealed class TenantIsolationTests(IsolationApp app) : IClassFixture<IsolationApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Role[] AccountRoles = [Role.AccountAdmin, Role.Engineer, Role.Viewer];

    public static TheoryData<string, Role> IdCases()
    {
        var data = new TheoryData<string, Role>();
        foreach (var route in IsolationTable.IdRoutes)
        {
            foreach (var role in AccountRoles)
            {
                data.Add(route.Path + " " + route.Method, role);
            }
        }
        return data;
    }

    public static TheoryData<string, Role> CollectionCases()
    {
        var data = new TheoryData<string, Role>();
        foreach (var route in IsolationTable.Collections)
        {
            foreach (var role in AccountRoles)
            {
                data.Add(route.Path, role);
            }
        }
        return data;
    }

    public static TheoryData<string, Role> ProviderOnlyCases()
    {
        var data = new TheoryData<string, Role>();
        foreach (var route in IsolationTable.ProviderOnly)
        {
            foreach (var role in AccountRoles)
            {
                data.Add(route.Route, role);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(IdCases))]
    public async Task ForeignId_AnswersExactlyAsMissingId(string pathAndMethod, Role role)
    {
        var route = IsolationTable.IdRoutes.Single(r => r.Path + " " + r.Method == pathAndMethod);
        var world = await World.CreateAsync(app, role);
        var (foreignId, missingId) = route.Kind switch
        {
            IdKind.Account => (world.VictimAccountId, Ids.New(Ids.Account, TimeProvider.System)),
            IdKind.Contract => (await world.VictimContractAsync(app), Ids.New(Ids.Contract, TimeProvider.System)),
            IdKind.Instance => ((await world.VictimInstanceAsync(app)).Resource.Id, Ids.New(Ids.Instance, TimeProvider.System)),
            IdKind.Machine => ((await world.VictimInstanceAsync(app)).Resource.Machines[0], Ids.New(Ids.Machine, TimeProvider.System)),
            IdKind.Job => ((await world.VictimInstanceAsync(app)).Job.Id, Ids.New(Ids.Job, TimeProvider.System)),
            IdKind.Volume => ((await world.VictimVolumeAsync(app)).Id, Ids.New(Ids.Volume, TimeProvider.System)),
            IdKind.Network => ((await world.VictimNetworkAsync()).Id, Ids.New(Ids.Network, TimeProvider.System)),
            IdKind.Invoice => (await world.VictimInvoiceAsync(app), Ids.New(Ids.Invoice, TimeProvider.System)),
            IdKind.Principal => (world.VictimPrincipalId, Ids.New(Ids.Principal, TimeProvider.System)),
            IdKind.LimitRequest => ((await world.VictimLimitRequestAsync()).Id, Ids.New(Ids.LimitRequest, TimeProvider.System)),
            IdKind.Upload => ((await world.VictimUploadAsync()).Id, Ids.New(Ids.Upload, TimeProvider.System)),
            IdKind.AccountImage => ((await world.VictimAccountImageAsync()).Id, Ids.New(Ids.Image, TimeProvider.System)),
            IdKind.AccessKey => ((await world.VictimAccessKeyAsync()).Id, Welkin.Core.Security.AccessKeys.NewId()),
            IdKind.Vault => ((await world.VictimVaultAsync(app)).Vault.Id, Ids.New(Ids.Vault, TimeProvider.System)),
            IdKind.VaultRecord => ((await world.VictimVaultAsync(app)).Stored.Id, Ids.New(Ids.VaultRecord, TimeProvider.System)),
            IdKind.VaultCertificate => ((await world.VictimVaultAsync(app)).Shredded.Id, Ids.New(Ids.VaultRecord, TimeProvider.System)),
            IdKind.VaultGrant => ((await world.VictimGrantAsync(app)).Id, Ids.New(Ids.VaultGrant, TimeProvider.System)),
            _ => (world.VictimTokenId, Ids.New(Ids.Token, TimeProvider.System)),
        };

        var path = route.Path.Contains("{vault}", StringComparison.Ordinal) ? route.Path.Replace("{vault}", await world.AttackerVaultIdAsync(app), StringComparison.Ordinal) : route.Path;
        var foreign = await SendAsync(world.Attacker, route.Method, path, route.Body, foreignId);
        var missing = await SendAsync(world.Attacker, route.Method, path, route.Body, missingId);

        foreign.Status.ShouldBeOneOf(HttpStatusCode.NotFound, HttpStatusCode.Forbidden);
        foreign.Status.ShouldBe(missing.Status, $"{foreign.Text}\nvs\n{missing.Text}");
        foreign.ContentType.ShouldBe("application/problem+json");
        foreign.ContentType.ShouldBe(missing.ContentType);
        Normalize(foreign.Text, foreignId).ShouldBe(Normalize(missing.Text, missingId));
        if (role == Role.AccountAdmin)
        {
            // The most powerful account role is refused for not finding the thing, not for lacking permission.
            foreign.Status.ShouldBe(HttpStatusCode.NotFound);
        }
        await world.AssertVictimUntouchedAsync();
    }

    [Theory]
    [MemberData(nameof(CollectionCases))]
    public async Task Collection_NeverShowsAnotherAccountsResources(string path, Role role)
    {
        var world = await World.CreateAsync(app, role);
        // Both tenants own resources of every kind the collections list.
        await world.VictimContractAsync(app);
        await world.AttackerContractAsync(app);
        await world.VictimInstanceAsync(app);
        await world.AttackerInstanceAsync(app);
        await world.VictimVolumeAsync(app);
        await world.AttackerVolumeAsync(app);
        await world.VictimNetworkAsync();
        await world.AttackerNetworkAsync();
        await world.VictimLimitRequestAsync();
        await world.AttackerLimitRequestAsync();
        await world.VictimUploadAsync();
        await world.VictimAccountImageAsync();
        await Uploads.UploadsApi.AccountImageAsync(world.AttackerAdmin, "mine");
        await Uploads.UploadsApi.HalfUploadAsync(world.AttackerAdmin);
        await world.VictimVaultAsync(app);
        await world.VictimGrantAsync(app);
        await world.AttackerVaultIdAsync(app);
        await world.AttackerGrantAsync(app);

        var response = await world.Attacker.GetAsync(path, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        response.StatusCode.ShouldBeOneOf(HttpStatusCode.OK, HttpStatusCode.Forbidden);
        if (role == Role.AccountAdmin)
        {
            response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
            text.ShouldContain(world.AttackerAccountId);
        }
        foreach (var secret in world.VictimIdentifiers)
        {
            text.ShouldNotContain(secret);
        }
    }

    [Theory]
    [MemberData(nameof(ProviderOnlyCases))]
    public async Task ProviderOnlyRoute_IsRefusedToAccountPrincipals(string key, Role role)
    {
        var route = IsolationTable.ProviderOnly.Single(r => r.Route == key);
        var world = await World.CreateAsync(app, role);

        var response = await SendAsync(world.Attacker, route.Method, route.Path, route.Body, "");

        response.Status.ShouldBeOneOf(HttpStatusCode.Forbidden, HttpStatusCode.NotFound);
    }

    [Fact]
    public void EveryRouteWithIdOrGetCollection_IsInTheIsolationTable()
    {
        var routes = app.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => (Method: m, e.RoutePattern)))
            .Where(r => r.RoutePattern.RawText is { } raw
                && (raw.StartsWith("/api/v1/", StringComparison.Ordinal) || raw.StartsWith("/federation/v1/", StringComparison.Ordinal)))
            .ToList();
        var existing = routes.Select(r => Key(r.Method, r.RoutePattern.RawText!)).ToHashSet(StringComparer.Ordinal);
        var required = routes
            .Where(r => r.RoutePattern.Parameters.Count > 0 || r.Method == "GET")
            .Select(r => Key(r.Method, r.RoutePattern.RawText!))
            .ToHashSet(StringComparer.Ordinal);
        var covered = IsolationTable.IdRoutes.Select(r => r.Route)
            .Concat(IsolationTable.Collections.Select(r => r.Route))
            .Concat(IsolationTable.ProviderOnly.Select(r => r.Route))
            .Concat(IsolationTable.Public.Keys)
            .ToHashSet(StringComparer.Ordinal);

        var uncovered = required.Where(r => !covered.Contains(r)).Order(StringComparer.Ordinal).ToList();
        uncovered.ShouldBeEmpty("These routes take an id or list a collection but are not classified in tests/Welkin.Server.Tests/Security/IsolationTable.cs: "
            + string.Join(", ", uncovered));
        var stale = covered.Where(r => !existing.Contains(r)).Order(StringComparer.Ordinal).ToList();
        stale.ShouldBeEmpty("IsolationTable names routes that do not exist: " + string.Join(", ", stale));
        required.ShouldContain("GET /api/v1/principals/{id}", "the route enumeration found nothing: check the meta-test itself");
    }

    private static string Key(string method, string pattern) => $"{method} {(pattern.Length > 1 ? pattern.TrimEnd('/') : pattern)}";

    private static async Task<(HttpStatusCode Status, string? ContentType, string Text)> SendAsync(HttpClient client, string method, string path, string? body, string id)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{id}", id, StringComparison.Ordinal));
        if (body is not null || method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent((body ?? "{}").Replace("{id}", id, StringComparison.Ordinal), Encoding.UTF8, "application/json");
        }
        using var response = await client.SendAsync(request, Ct);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>The problem with the id replaced and the per-request members (correlation and trace ids) removed.</summary>
    private static string Normalize(string problemJson, string id)
    {
        if (problemJson.Length == 0)
        {
            // HEAD: no body, so the status and the content type are all there is to compare.
            return "";
        }
        var members = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(problemJson)!;
        members.Remove("correlationId");
        members.Remove("traceId");
        return JsonSerializer.Serialize(new SortedDictionary<string, JsonElement>(members, StringComparer.Ordinal)).Replace(id, "<id>", StringComparison.Ordinal);
    }

    /// <summary>Two fresh tenants: the attacker's account (with a principal of the role under test) and the victim's.</summary>
    private sealed record World(
        HttpClient Attacker, string AttackerAccountId, HttpClient AttackerAdmin, HttpClient VictimAdmin, SignUpResponse Victim, PrincipalView VictimPrincipal, IssuedToken VictimToken)
    {
        private AccountView _victimAccount = Victim.Account;
        private ContractView? _victimContract;

        /// <summary>Gives the victim limits and a proposed contract (only for the routes that need one).</summary>
        public async Task<string> VictimContractAsync(WelkinApp app)
        {
            var (compute, _) = await Contracts.ContractsApi.PublishedOfferingsAsync(app);
            _victimAccount = await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{VictimAccountId}/limits",
                new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5 }), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
            _victimContract = await (await VictimAdmin.PostAsJsonAsync("/api/v1/contracts",
                new ContractRequest([new ContractItemRequest(compute.Id, 1)]), WelkinJson.Client, Ct)).ReadAsync<ContractView>(HttpStatusCode.Created);
            return _victimContract.Id;
        }

        public async Task AttackerContractAsync(WelkinApp app)
        {
            var (compute, _) = await Contracts.ContractsApi.PublishedOfferingsAsync(app);
            await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{AttackerAccountId}/limits",
                new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5 }), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
            await (await AttackerAdmin.PostAsJsonAsync("/api/v1/contracts",
                new ContractRequest([new ContractItemRequest(compute.Id, 1)]), WelkinJson.Client, Ct)).ReadAsync<ContractView>(HttpStatusCode.Created);
        }

        private AcceptedView<InstanceView>? _victimInstance;

        /// <summary>Gives the victim an active contract and an instance of one machine (its provision job may still run).</summary>
        public async Task<AcceptedView<InstanceView>> VictimInstanceAsync(WelkinApp app)
        {
            _victimInstance ??= await InstanceAsync(app, VictimAccountId, VictimAdmin);
            _victimAccount = await (await VictimAdmin.GetAsync($"/api/v1/accounts/{VictimAccountId}", Ct)).ReadAsync<AccountView>();
            return _victimInstance;
        }

        public Task AttackerInstanceAsync(WelkinApp app) => InstanceAsync(app, AttackerAccountId, AttackerAdmin);

        private static async Task<AcceptedView<InstanceView>> InstanceAsync(WelkinApp app, string accountId, HttpClient admin)
        {
            // Small machines: the shared test fabric must hold one for every isolation case.
            var provider = app.Admin();
            var prefix = CatalogApi.UniquePrefix("iso");
            var template = await CatalogApi.PublishedTemplateAsync(provider, CatalogApi.Template(prefix + "tiny", vcpus: 1, memoryMiB: 256));
            var compute = await CatalogApi.PublishOfferingAsync(provider,
                (await CatalogApi.CreateOfferingAsync(provider, CatalogApi.Compute(prefix + "tiny", template.Id))).Id);
            await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{accountId}/limits",
                new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5 }), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
            var contract = await (await admin.PostAsJsonAsync("/api/v1/contracts",
                new ContractRequest([new ContractItemRequest(compute.Id, 1)]), WelkinJson.Client, Ct)).ReadAsync<ContractView>(HttpStatusCode.Created);
            await (await admin.PostAsJsonAsync($"/api/v1/contracts/{contract.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<ContractView>();
            return await (await admin.PostAsJsonAsync("/api/v1/instances", new ProvisionRequest(contract.Id), WelkinJson.Client, Ct))
                .ReadAsync<AcceptedView<InstanceView>>(HttpStatusCode.Accepted);
        }

        private string? _victimInvoice;

        /// <summary>Gives the victim an invoice of last month, issued by the provider administrator.</summary>
        public async Task<string> VictimInvoiceAsync(WelkinApp app)
        {
            var period = Welkin.Core.Common.BillingPeriod.Of(TimeProvider.System.GetUtcNow()).Previous;
            _victimInvoice ??= (await (await app.Admin().PostAsJsonAsync($"/api/v1/accounts/{VictimAccountId}/invoices",
                new IssueInvoiceRequest(period.ToString()), WelkinJson.Client, Ct)).ReadAsync<InvoiceView>(HttpStatusCode.Created)).Id!;
            return _victimInvoice;
        }

        private UploadView? _victimUpload;
        private AccountImageView? _victimImage;

        /// <summary>Gives the victim an upload with half of its bytes received.</summary>
        public async Task<UploadView> VictimUploadAsync() =>
            _victimUpload ??= await Uploads.UploadsApi.HalfUploadAsync(VictimAdmin);

        /// <summary>Gives the victim an image of its own, made from a plain disk it uploaded.</summary>
        public async Task<AccountImageView> VictimAccountImageAsync() =>
            _victimImage ??= await Uploads.UploadsApi.AccountImageAsync(VictimAdmin, "secret-disk");

        private (VaultView Vault, VaultRecordView Stored, VaultRecordView Shredded)? _victimVault;
        private string? _attackerVault;

        /// <summary>Gives the victim a vault with a stored record and a destroyed one (so it has a destruction certificate).</summary>
        public async Task<(VaultView Vault, VaultRecordView Stored, VaultRecordView Shredded)> VictimVaultAsync(WelkinApp app)
        {
            if (_victimVault is null)
            {
                var vault = await VaultAsync(app, VictimAccountId, VictimAdmin);
                var stored = await Vault.VaultApi.RecordAsync(VictimAdmin, vault.Id, "board/minutes-secret.txt", "secret minutes"u8.ToArray());
                var shredded = await Vault.VaultApi.RecordAsync(VictimAdmin, vault.Id, "board/old.txt", "old"u8.ToArray());
                await (await VictimAdmin.DeleteAsync($"/api/v1/vaults/{vault.Id}/records/{shredded.Id}", Ct)).ReadAsync<DestructionCertificateView>();
                _victimVault = (await (await VictimAdmin.GetAsync($"/api/v1/vaults/{vault.Id}", Ct)).ReadAsync<VaultView>(), stored,
                    await (await VictimAdmin.GetAsync($"/api/v1/vaults/{vault.Id}/records/{shredded.Id}", Ct)).ReadAsync<VaultRecordView>());
                _victimAccount = await (await VictimAdmin.GetAsync($"/api/v1/accounts/{VictimAccountId}", Ct)).ReadAsync<AccountView>();
            }
            return _victimVault.Value;
        }

        private VaultGrantView? _victimGrant;
        private VaultGrantView? _attackerGrant;

        public async Task<VaultGrantView> AttackerGrantAsync(WelkinApp app) =>
            _attackerGrant ??= await Vault.VaultGrantApi.GrantAsync(AttackerAdmin,
                new CreateVaultGrantRequest(await AttackerVaultIdAsync(app), (await Vault.VaultGrantApi.RegulatorAsync(app)).Id, DateTimeOffset.UtcNow.AddDays(1)));

        /// <summary>Gives the victim's vault a grant to a regulator.</summary>
        public async Task<VaultGrantView> VictimGrantAsync(WelkinApp app) =>
            _victimGrant ??= await Vault.VaultGrantApi.GrantAsync(VictimAdmin,
                new CreateVaultGrantRequest((await VictimVaultAsync(app)).Vault.Id, (await Vault.VaultGrantApi.RegulatorAsync(app)).Id, DateTimeOffset.UtcNow.AddDays(1),
                    KeyPrefix: "board/"));

        public async Task<string> AttackerVaultIdAsync(WelkinApp app) => _attackerVault ??= (await VaultAsync(app, AttackerAccountId, AttackerAdmin)).Id;

        private static async Task<VaultView> VaultAsync(WelkinApp app, string accountId, HttpClient admin)
        {
            var provider = app.Admin();
            var storage = await CatalogApi.PublishOfferingAsync(provider,
                (await CatalogApi.CreateOfferingAsync(provider, CatalogApi.Storage(CatalogApi.UniquePrefix("iso") + "vault"))).Id);
            await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{accountId}/limits",
                new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5, ["storage-unit"] = 5 }), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
            var contract = await (await admin.PostAsJsonAsync("/api/v1/contracts",
                new ContractRequest([new ContractItemRequest(storage.Id, 1)]), WelkinJson.Client, Ct)).ReadAsync<ContractView>(HttpStatusCode.Created);
            await (await admin.PostAsJsonAsync($"/api/v1/contracts/{contract.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<ContractView>();
            return await (await admin.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(contract.Id, 100, "secret-vault"), WelkinJson.Client, Ct))
                .ReadAsync<VaultView>(HttpStatusCode.Created);
        }

        private VolumeView? _victimVolume;
        private IssuedAccessKey? _victimAccessKey;

        public async Task<IssuedAccessKey> VictimAccessKeyAsync() =>
            _victimAccessKey ??= await (await VictimAdmin.PostAsJsonAsync($"/api/v1/principals/{VictimPrincipalId}/access-keys",
                new CreateAccessKeyRequest("backup"), WelkinJson.Client, Ct)).ReadAsync<IssuedAccessKey>(HttpStatusCode.Created);
        private NetworkView? _victimNetwork;
        private LimitRequestView? _victimLimitRequest;

        public async Task<LimitRequestView> VictimLimitRequestAsync() =>
            _victimLimitRequest ??= await (await VictimAdmin.PostAsJsonAsync("/api/v1/limit-requests",
                new CreateLimitRequest(new Dictionary<string, long> { ["compute-unit"] = 500 }, "secret expansion plans"), WelkinJson.Client, Ct))
                .ReadAsync<LimitRequestView>(HttpStatusCode.Created);

        public async Task AttackerLimitRequestAsync() =>
            await (await AttackerAdmin.PostAsJsonAsync("/api/v1/limit-requests",
                new CreateLimitRequest(new Dictionary<string, long> { ["compute-unit"] = 400 }, "more"), WelkinJson.Client, Ct))
                .ReadAsync<LimitRequestView>(HttpStatusCode.Created);

        /// <summary>Gives the victim an active storage contract and a 100 GiB volume.</summary>
        public async Task<VolumeView> VictimVolumeAsync(WelkinApp app)
        {
            _victimVolume ??= await VolumeAsync(app, VictimAccountId, VictimAdmin);
            _victimAccount = await (await VictimAdmin.GetAsync($"/api/v1/accounts/{VictimAccountId}", Ct)).ReadAsync<AccountView>();
            return _victimVolume;
        }

        public Task AttackerVolumeAsync(WelkinApp app) => VolumeAsync(app, AttackerAccountId, AttackerAdmin);

        public async Task<NetworkView> VictimNetworkAsync() =>
            _victimNetwork ??= await (await VictimAdmin.PostAsJsonAsync("/api/v1/networks", new CreateNetworkRequest("secret-lan", "10.66.0.0/24"), WelkinJson.Client, Ct))
                .ReadAsync<NetworkView>(HttpStatusCode.Created);

        public async Task AttackerNetworkAsync() =>
            await (await AttackerAdmin.PostAsJsonAsync("/api/v1/networks", new CreateNetworkRequest("lan"), WelkinJson.Client, Ct)).ReadAsync<NetworkView>(HttpStatusCode.Created);

        private static async Task<VolumeView> VolumeAsync(WelkinApp app, string accountId, HttpClient admin)
        {
            var provider = app.Admin();
            var storage = await CatalogApi.PublishOfferingAsync(provider,
                (await CatalogApi.CreateOfferingAsync(provider, CatalogApi.Storage(CatalogApi.UniquePrefix("iso") + "disk"))).Id);
            await (await app.Admin().PutAsJsonAsync($"/api/v1/accounts/{accountId}/limits",
                new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = 5, ["storage-unit"] = 5 }), WelkinJson.Client, Ct)).ReadAsync<AccountView>();
            var contract = await (await admin.PostAsJsonAsync("/api/v1/contracts",
                new ContractRequest([new ContractItemRequest(storage.Id, 2)]), WelkinJson.Client, Ct)).ReadAsync<ContractView>(HttpStatusCode.Created);
            await (await admin.PostAsJsonAsync($"/api/v1/contracts/{contract.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client, Ct)).ReadAsync<ContractView>();
            return await (await admin.PostAsJsonAsync("/api/v1/volumes", new CreateVolumeRequest(contract.Id, 100), WelkinJson.Client, Ct))
                .ReadAsync<VolumeView>(HttpStatusCode.Created);
        }

        public string VictimAccountId => Victim.Account.Id;

        public string VictimPrincipalId => VictimPrincipal.Id;

        public string VictimTokenId => VictimToken.Id;

        public IEnumerable<string> VictimIdentifiers =>
            [Victim.Account.Id, Victim.Account.Name, Victim.Admin.Id, VictimPrincipal.Id, VictimPrincipal.Name, VictimToken.Id, Victim.Token.Id,
             .. _victimContract is null ? Array.Empty<string>() : [_victimContract.Id],
             .. _victimInstance is null ? Array.Empty<string>() : [_victimInstance.Resource.Id, _victimInstance.Job.Id, .. _victimInstance.Resource.Machines],
             .. _victimVolume is null ? Array.Empty<string>() : [_victimVolume.Id, _victimVolume.ContractId],
             .. _victimNetwork is null ? Array.Empty<string>() : [_victimNetwork.Id, _victimNetwork.Name],
             .. _victimLimitRequest is null ? Array.Empty<string>() : [_victimLimitRequest.Id, _victimLimitRequest.Reason],
             .. _victimInvoice is null ? Array.Empty<string>() : [_victimInvoice],
             .. _victimUpload is null ? Array.Empty<string>() : [_victimUpload.Id, _victimUpload.Sha256],
             .. _victimImage is null ? Array.Empty<string>() : [_victimImage.Id, _victimImage.Name],
             .. _victimAccessKey is null ? Array.Empty<string>() : [_victimAccessKey.Id, _victimAccessKey.Secret],
             .. _victimVault is not { } v ? Array.Empty<string>()
                : [v.Vault.Id, v.Vault.ContractId, v.Stored.Id, v.Stored.Key, v.Stored.Sha256, v.Shredded.Id, v.Shredded.Key]];

        public static async Task<World> CreateAsync(WelkinApp app, Role role)
        {
            var (victim, victimAdmin) = await app.SignUpAsync("victim");
            var principal = await (await victimAdmin.PostAsJsonAsync("/api/v1/principals",
                new CreatePrincipalRequest("secret-project-" + Guid.NewGuid().ToString("n")[..6], [Role.Engineer]), WelkinJson.Client, Ct))
                .ReadAsync<PrincipalView>(HttpStatusCode.Created);
            var token = await (await victimAdmin.PostAsJsonAsync($"/api/v1/principals/{principal.Id}/tokens", new CreateTokenRequest("ci"), WelkinJson.Client, Ct))
                .ReadAsync<IssuedToken>(HttpStatusCode.Created);

            var (attacker, attackerAdmin) = await app.SignUpAsync("attacker");
            var client = attackerAdmin;
            if (role != Role.AccountAdmin)
            {
                var created = await (await attackerAdmin.PostAsJsonAsync("/api/v1/principals", new CreatePrincipalRequest("mallory", [role]), WelkinJson.Client, Ct))
                    .ReadAsync<PrincipalView>(HttpStatusCode.Created);
                var issued = await (await attackerAdmin.PostAsJsonAsync($"/api/v1/principals/{created.Id}/tokens", new CreateTokenRequest("t"), WelkinJson.Client, Ct))
                    .ReadAsync<IssuedToken>(HttpStatusCode.Created);
                client = app.As(issued.Secret);
            }
            return new World(client, attacker.Account.Id, attackerAdmin, victimAdmin, victim, principal, token);
        }

        public async Task AssertVictimUntouchedAsync()
        {
            var account = await (await VictimAdmin.GetAsync($"/api/v1/accounts/{VictimAccountId}", Ct)).ReadAsync<AccountView>();
            account.Version.ShouldBe(_victimAccount.Version);
            account.Limits.ShouldBe(_victimAccount.Limits);
            account.State.ShouldBe(AccountState.Active);
            if (_victimContract is not null)
            {
                var contract = await (await VictimAdmin.GetAsync($"/api/v1/contracts/{_victimContract.Id}", Ct)).ReadAsync<ContractView>();
                contract.Version.ShouldBe(_victimContract.Version);
                contract.State.ShouldBe(_victimContract.State);
            }
            if (_victimInstance is not null)
            {
                var instance = await (await VictimAdmin.GetAsync($"/api/v1/instances/{_victimInstance.Resource.Id}", Ct)).ReadAsync<InstanceView>();
                instance.State.ShouldBeOneOf(InstanceState.Provisioning, InstanceState.Active);
                instance.VirtualSystems.Single().Count.ShouldBe(1);
                var machine = await (await VictimAdmin.GetAsync($"/api/v1/machines/{_victimInstance.Resource.Machines[0]}", Ct)).ReadAsync<MachineView>();
                machine.State.ShouldBeOneOf(MachineState.Provisioning, MachineState.Running);
                var jobs = await (await VictimAdmin.GetAsync("/api/v1/jobs", Ct)).ReadAsync<Page<JobView>>();
                jobs.Items.Select(j => j.Action).ShouldBe(["instance.provision"]);
            }
            if (_victimVolume is not null)
            {
                (await (await VictimAdmin.GetAsync($"/api/v1/volumes/{_victimVolume.Id}", Ct)).ReadAsync<VolumeView>()).ShouldBe(_victimVolume);
            }
            if (_victimNetwork is not null)
            {
                (await (await VictimAdmin.GetAsync($"/api/v1/networks/{_victimNetwork.Id}", Ct)).ReadAsync<NetworkView>()).Version.ShouldBe(_victimNetwork.Version);
            }
            if (_victimLimitRequest is not null)
            {
                var request = await (await VictimAdmin.GetAsync($"/api/v1/limit-requests/{_victimLimitRequest.Id}", Ct)).ReadAsync<LimitRequestView>();
                (request.State, request.Version).ShouldBe((LimitRequestState.Pending, _victimLimitRequest.Version));
            }
            if (_victimUpload is not null)
            {
                var upload = await (await VictimAdmin.GetAsync($"/api/v1/uploads/{_victimUpload.Id}", Ct)).ReadAsync<UploadView>();
                (upload.ReceivedBytes, upload.Version).ShouldBe((_victimUpload.ReceivedBytes, _victimUpload.Version));
            }
            if (_victimImage is not null)
            {
                (await (await VictimAdmin.GetAsync($"/api/v1/account-images/{_victimImage.Id}", Ct)).ReadAsync<AccountImageView>()).ShouldBe(_victimImage);
            }
            if (_victimVault is { } vault)
            {
                (await (await VictimAdmin.GetAsync($"/api/v1/vaults/{vault.Vault.Id}", Ct)).ReadAsync<VaultView>()).ShouldBe(vault.Vault);
                var record = await (await VictimAdmin.GetAsync($"/api/v1/vaults/{vault.Vault.Id}/records/{vault.Stored.Id}", Ct)).ReadAsync<VaultRecordView>();
                (record.Version, record.State, record.RetainUntil, record.HoldIds.Count).ShouldBe((vault.Stored.Version, VaultRecordState.Stored, null, 0));
                (await (await VictimAdmin.GetAsync($"/api/v1/vaults/{vault.Vault.Id}/classes", Ct)).ReadAsync<List<RetentionClassView>>()).ShouldBeEmpty();
            }
            var principal = await (await VictimAdmin.GetAsync($"/api/v1/principals/{VictimPrincipalId}", Ct)).ReadAsync<PrincipalView>();
            principal.Version.ShouldBe(VictimPrincipal.Version);
            var tokens = await (await VictimAdmin.GetAsync($"/api/v1/principals/{VictimPrincipalId}/tokens", Ct)).ReadAsync<List<TokenView>>();
            tokens.Select(t => (t.Id, t.Revoked)).ShouldBe([(VictimTokenId, (DateTimeOffset?)null)]);
            if (_victimAccessKey is not null)
            {
                var keys = await (await VictimAdmin.GetAsync($"/api/v1/principals/{VictimPrincipalId}/access-keys", Ct)).ReadAsync<List<AccessKeyView>>();
                keys.Select(k => (k.Id, k.Revoked)).ShouldBe([(_victimAccessKey.Id, (DateTimeOffset?)null)]);
            }
            var principals = await (await VictimAdmin.GetAsync("/api/v1/principals", Ct)).ReadAsync<Page<PrincipalView>>();
            principals.Count.ShouldBe(2);
        }
    }
}

/// <summary>
/// The shared cloud of the isolation cases: every case gives both tenants a machine of 100 GiB
/// disk, more than the default hosts' disks hold without overcommit.
/// </summary>
public sealed class IsolationApp : WelkinApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Placement:DiskOvercommit"] = "4" };
}
