namespace Welkin.Server.Tests.Security;

/// <summary>
/// THE table of tenant isolation: every /api/v1 (and /federation/v1) route that takes an id or lists a collection
/// must appear here (the meta-test <see cref="TenantIsolationTests.EveryRouteWithIdOrGetCollection_IsInTheIsolationTable"/>
/// fails otherwise, and also when an entry names a route that no longer exists).
///
/// To classify a new route, add ONE entry:
/// - <see cref="IdRoutes"/>: an account-scoped resource named by id (path or body). The test calls it as
///   principals of account A with the id of account B's resource and with a well-formed id that
///   does not exist, and requires both answers to be identical 403/404 problems.
/// - <see cref="Collections"/>: a GET listing; the test requires that nothing of account B appears in it.
/// - <see cref="ProviderOnly"/>: the test requires an account principal to get 403 or 404. Give a
///   valid body where the route takes one, so the refusal cannot come from body validation.
/// - <see cref="Public"/>: not executed; a comment-worthy reason why no tenant can learn anything from it.
///
/// The S3 face has no routes of its own: its operations are classified in <see cref="S3"/>, one line each by AWS's
/// operation name (the meta-test <see cref="S3IsolationTests.EveryServedS3Operation_IsInTheIsolationTable"/> compares
/// them with <c>S3Operations.Served</c>, and <see cref="S3IsolationTests.EveryAwsOperationTheFaceAnswers_IsListedAsServed"/>
/// sends every AWS operation and fails when the face answers one that list lacks). <see cref="S3IsolationTests"/> sends each with another account's access key to the
/// victim's bucket and object and requires the answer of a missing bucket, and the victim's own key a 2xx for the
/// same request, so the request is one the face serves.
/// </summary>
public static class IsolationTable
{
    // Well-formed ids that exist nowhere: provider-only routes must refuse before looking them up.
    private const string Tpl = "tpl_01h00000000000000000000000";
    private const string Off = "off_01h00000000000000000000000";
    private const string Img = "img_01h00000000000000000000000";
    private const string Acc = "acc_01h00000000000000000000000";
    private const string Ctr = "ctr_01h00000000000000000000000";
    private const string Lrq = "lrq_01h00000000000000000000000";
    private const string Agr = "agr_01h00000000000000000000000";

    public static readonly IReadOnlyList<IdRoute> IdRoutes =
    [
        new("GET /api/v1/principals/{id}", "GET", "/api/v1/principals/{id}", IdKind.Principal),
        new("PATCH /api/v1/principals/{id}", "PATCH", "/api/v1/principals/{id}", IdKind.Principal, """{"displayName":"Mallory was here"}"""),
        new("GET /api/v1/principals/{id}/tokens", "GET", "/api/v1/principals/{id}/tokens", IdKind.Principal),
        new("POST /api/v1/principals/{id}/tokens", "POST", "/api/v1/principals/{id}/tokens", IdKind.Principal, """{"name":"stolen"}"""),
        new("DELETE /api/v1/tokens/{id}", "DELETE", "/api/v1/tokens/{id}", IdKind.Token),
        new("GET /api/v1/principals/{id}/access-keys", "GET", "/api/v1/principals/{id}/access-keys", IdKind.Principal),
        new("POST /api/v1/principals/{id}/access-keys", "POST", "/api/v1/principals/{id}/access-keys", IdKind.Principal, """{"name":"stolen"}"""),
        // The victim's engineer has an S3 access key.
        new("DELETE /api/v1/access-keys/{id}", "DELETE", "/api/v1/access-keys/{id}", IdKind.AccessKey),
        new("GET /api/v1/accounts/{id}", "GET", "/api/v1/accounts/{id}", IdKind.Account),
        new("PUT /api/v1/accounts/{id}/limits", "PUT", "/api/v1/accounts/{id}/limits", IdKind.Account, """{"limits":{"compute-unit":999}}"""),
        // Limit requests: the victim's account-admin asked for more.
        new("GET /api/v1/limit-requests/{id}", "GET", "/api/v1/limit-requests/{id}", IdKind.LimitRequest),
        new("GET /api/v1/limit-requests", "GET", "/api/v1/limit-requests?accountId={id}", IdKind.Account),
        // Collections filtered by another account, and creation inside another account.
        new("GET /api/v1/principals", "GET", "/api/v1/principals?accountId={id}", IdKind.Account),
        new("GET /api/v1/audit", "GET", "/api/v1/audit?accountId={id}", IdKind.Account),
        new("POST /api/v1/principals", "POST", "/api/v1/principals", IdKind.Account, """{"name":"implant","roles":["account-admin"],"accountId":"{id}"}"""),
        // Contracts: the victim has a proposed contract.
        new("GET /api/v1/contracts/{id}", "GET", "/api/v1/contracts/{id}", IdKind.Contract),
        new("POST /api/v1/contracts/{id}/accept", "POST", "/api/v1/contracts/{id}/accept", IdKind.Contract, "{}"),
        new("POST /api/v1/contracts/{id}/reject", "POST", "/api/v1/contracts/{id}/reject", IdKind.Contract, "{}"),
        new("POST /api/v1/contracts/{id}/amendments", "POST", "/api/v1/contracts/{id}/amendments", IdKind.Contract, """{"name":"taken over"}"""),
        new("GET /api/v1/contracts/{id}/revisions", "GET", "/api/v1/contracts/{id}/revisions", IdKind.Contract),
        new("POST /api/v1/contracts/{id}/terminate", "POST", "/api/v1/contracts/{id}/terminate", IdKind.Contract, "{}"),
        new("GET /api/v1/contracts", "GET", "/api/v1/contracts?accountId={id}", IdKind.Account),
        new("GET /api/v1/accounts/{id}/quotas", "GET", "/api/v1/accounts/{id}/quotas", IdKind.Account),
        new("POST /api/v1/accounts/{id}/close", "POST", "/api/v1/accounts/{id}/close", IdKind.Account, "{}"),
        // Service Manager: the victim has an instance of one machine (and its provision job) on an active contract.
        new("POST /api/v1/instances", "POST", "/api/v1/instances", IdKind.Contract, """{"contractId":"{id}"}"""),
        new("GET /api/v1/instances/{id}", "GET", "/api/v1/instances/{id}", IdKind.Instance),
        new("POST /api/v1/instances/{id}/scale", "POST", "/api/v1/instances/{id}/scale", IdKind.Instance, """{"virtualSystem":"web","count":0}"""),
        new("POST /api/v1/instances/{id}/terminate", "POST", "/api/v1/instances/{id}/terminate", IdKind.Instance, "{}"),
        new("GET /api/v1/instances", "GET", "/api/v1/instances?accountId={id}", IdKind.Account),
        new("GET /api/v1/machines/{id}", "GET", "/api/v1/machines/{id}", IdKind.Machine),
        new("POST /api/v1/machines/{id}/start", "POST", "/api/v1/machines/{id}/start", IdKind.Machine, "{}"),
        new("POST /api/v1/machines/{id}/stop", "POST", "/api/v1/machines/{id}/stop", IdKind.Machine, "{}"),
        new("POST /api/v1/machines/{id}/pause", "POST", "/api/v1/machines/{id}/pause", IdKind.Machine, "{}"),
        new("POST /api/v1/machines/{id}/resume", "POST", "/api/v1/machines/{id}/resume", IdKind.Machine, "{}"),
        new("POST /api/v1/machines/{id}/reboot", "POST", "/api/v1/machines/{id}/reboot", IdKind.Machine, "{}"),
        new("POST /api/v1/machines/{id}/destroy", "POST", "/api/v1/machines/{id}/destroy", IdKind.Machine, "{}"),
        new("POST /api/v1/machines/{id}/resize", "POST", "/api/v1/machines/{id}/resize", IdKind.Machine, """{"vcpus":4}"""),
        new("GET /api/v1/machines/{id}/console", "GET", "/api/v1/machines/{id}/console", IdKind.Machine),
        // The VNC console WebSocket: the machine is resolved before the upgrade is asked for, so a plain GET of another account's machine is its 404.
        new("GET /api/v1/machines/{id}/console/vnc", "GET", "/api/v1/machines/{id}/console/vnc", IdKind.Machine),
        new("GET /api/v1/machines/{id}/metrics", "GET", "/api/v1/machines/{id}/metrics", IdKind.Machine),
        // OVA export of the victim's machine and instance (their disks, hardware and properties).
        new("GET /api/v1/machines/{id}/export", "GET", "/api/v1/machines/{id}/export", IdKind.Machine),
        new("POST /api/v1/machines/{id}/package", "POST", "/api/v1/machines/{id}/package", IdKind.Machine),
        new("GET /api/v1/machines/{id}/package", "GET", "/api/v1/machines/{id}/package", IdKind.Machine),
        new("GET /api/v1/machines/{id}/package/content", "GET", "/api/v1/machines/{id}/package/content", IdKind.Machine),
        new("DELETE /api/v1/machines/{id}/package", "DELETE", "/api/v1/machines/{id}/package", IdKind.Machine),
        new("GET /api/v1/instances/{id}/export", "GET", "/api/v1/instances/{id}/export", IdKind.Instance),
        new("GET /api/v1/machines", "GET", "/api/v1/machines?accountId={id}", IdKind.Account),
        new("GET /api/v1/jobs/{id}", "GET", "/api/v1/jobs/{id}", IdKind.Job),
        new("GET /api/v1/jobs", "GET", "/api/v1/jobs?accountId={id}", IdKind.Account),
        new("GET /api/v1/events", "GET", "/api/v1/events?accountId={id}", IdKind.Account),
        // Configuration Manager: the victim has a volume, a network and a machine; bodies name a
        // machine id that exists nowhere, so the refusal can only come from the volume or network.
        new("GET /api/v1/volumes/{id}", "GET", "/api/v1/volumes/{id}", IdKind.Volume),
        new("DELETE /api/v1/volumes/{id}", "DELETE", "/api/v1/volumes/{id}", IdKind.Volume),
        new("POST /api/v1/volumes/{id}/attach", "POST", "/api/v1/volumes/{id}/attach", IdKind.Volume, """{"machineId":"mch_01h00000000000000000000000"}"""),
        new("POST /api/v1/volumes/{id}/detach", "POST", "/api/v1/volumes/{id}/detach", IdKind.Volume, "{}"),
        new("GET /api/v1/volumes", "GET", "/api/v1/volumes?accountId={id}", IdKind.Account),
        new("GET /api/v1/networks/{id}", "GET", "/api/v1/networks/{id}", IdKind.Network),
        new("DELETE /api/v1/networks/{id}", "DELETE", "/api/v1/networks/{id}", IdKind.Network),
        new("POST /api/v1/networks/{id}/connect", "POST", "/api/v1/networks/{id}/connect", IdKind.Network, """{"machineId":"mch_01h00000000000000000000000"}"""),
        new("POST /api/v1/networks/{id}/disconnect", "POST", "/api/v1/networks/{id}/disconnect", IdKind.Network, """{"machineId":"mch_01h00000000000000000000000"}"""),
        new("GET /api/v1/networks", "GET", "/api/v1/networks?accountId={id}", IdKind.Account),
        new("PUT /api/v1/machines/{id}/configuration", "PUT", "/api/v1/machines/{id}/configuration", IdKind.Machine, """{"properties":{"admin.email":"mallory@example.com"}}"""),
        new("PUT /api/v1/instances/{id}/configuration", "PUT", "/api/v1/instances/{id}/configuration", IdKind.Instance, """{"properties":{"admin.email":"mallory@example.com"}}"""),
        // Metering: usage, its reconciliation and the contract report of the victim's account and contract.
        new("GET /api/v1/accounts/{id}/usage", "GET", "/api/v1/accounts/{id}/usage", IdKind.Account),
        new("GET /api/v1/accounts/{id}/usage/reconciliation", "GET", "/api/v1/accounts/{id}/usage/reconciliation", IdKind.Account),
        new("GET /api/v1/contracts/{id}/usage", "GET", "/api/v1/contracts/{id}/usage", IdKind.Contract),
        new("GET /api/v1/contracts/{id}/report", "GET", "/api/v1/contracts/{id}/report", IdKind.Contract),
        new("GET /api/v1/contracts/{id}/report.svg", "GET", "/api/v1/contracts/{id}/report.svg", IdKind.Contract),
        // SLA management: the victim's contract report and its instance's scaling policy.
        new("GET /api/v1/contracts/{id}/sla", "GET", "/api/v1/contracts/{id}/sla?period=2026-11", IdKind.Contract),
        new("GET /api/v1/instances/{id}/scaling-policy", "GET", "/api/v1/instances/{id}/scaling-policy", IdKind.Instance),
        new("PUT /api/v1/instances/{id}/scaling-policy", "PUT", "/api/v1/instances/{id}/scaling-policy", IdKind.Instance,
            """{"minActive":0,"maxActive":1,"cpuLowPercent":10,"cpuHighPercent":90}"""),
        new("DELETE /api/v1/instances/{id}/scaling-policy", "DELETE", "/api/v1/instances/{id}/scaling-policy", IdKind.Instance),
        // Service Monitor: measurements of the victim's machine, instance and contract.
        new("GET /api/v1/machines/{id}/measurements", "GET", "/api/v1/machines/{id}/measurements", IdKind.Machine),
        new("GET /api/v1/instances/{id}/measurements", "GET", "/api/v1/instances/{id}/measurements", IdKind.Instance),
        new("GET /api/v1/contracts/{id}/measurements", "GET", "/api/v1/contracts/{id}/measurements", IdKind.Contract),
        // Billing: the victim has a proposed contract, or an invoice the provider issued.
        new("GET /api/v1/contracts/{id}/price-plans", "GET", "/api/v1/contracts/{id}/price-plans", IdKind.Contract),
        new("GET /api/v1/accounts/{id}/invoices", "GET", "/api/v1/accounts/{id}/invoices", IdKind.Account),
        new("GET /api/v1/accounts/{id}/invoices/preview", "GET", "/api/v1/accounts/{id}/invoices/preview", IdKind.Account),
        new("GET /api/v1/invoices/{id}", "GET", "/api/v1/invoices/{id}", IdKind.Invoice),
        new("GET /api/v1/invoices/{id}/html", "GET", "/api/v1/invoices/{id}/html", IdKind.Invoice),
        new("GET /api/v1/invoices/{id}/pdf", "GET", "/api/v1/invoices/{id}/pdf", IdKind.Invoice),
        // Uploads and the account's own images: the victim has an upload half received and an image made from another.
        new("GET /api/v1/uploads/{id}", "GET", "/api/v1/uploads/{id}", IdKind.Upload),
        new("HEAD /api/v1/uploads/{id}", "HEAD", "/api/v1/uploads/{id}", IdKind.Upload),
        new("PUT /api/v1/uploads/{id}", "PUT", "/api/v1/uploads/{id}", IdKind.Upload, "mallory's bytes"),
        new("DELETE /api/v1/uploads/{id}", "DELETE", "/api/v1/uploads/{id}", IdKind.Upload),
        new("POST /api/v1/account-images", "POST", "/api/v1/account-images", IdKind.Upload, """{"uploadId":"{id}","name":"stolen"}"""),
        new("GET /api/v1/account-images/{id}", "GET", "/api/v1/account-images/{id}", IdKind.AccountImage),
        new("DELETE /api/v1/account-images/{id}", "DELETE", "/api/v1/account-images/{id}", IdKind.AccountImage),
        // Retention vault: the victim has a vault with a stored record and a destroyed one. Record routes go
        // through the attacker's own vault ({vault}), so only the record id can be the victim's.
        new("POST /api/v1/vaults", "POST", "/api/v1/vaults", IdKind.Contract, """{"contractId":"{id}","capacityGiB":100}"""),
        new("GET /api/v1/vaults", "GET", "/api/v1/vaults?accountId={id}", IdKind.Account),
        new("GET /api/v1/vaults/{id}", "GET", "/api/v1/vaults/{id}", IdKind.Vault),
        new("DELETE /api/v1/vaults/{id}", "DELETE", "/api/v1/vaults/{id}", IdKind.Vault),
        new("POST /api/v1/vaults/{id}/object-lock", "POST", "/api/v1/vaults/{id}/object-lock", IdKind.Vault),
        new("GET /api/v1/vaults/{id}/default-retention", "GET", "/api/v1/vaults/{id}/default-retention", IdKind.Vault),
        new("PUT /api/v1/vaults/{id}/default-retention", "PUT", "/api/v1/vaults/{id}/default-retention", IdKind.Vault, """{"mode":"governance","days":1}"""),
        new("POST /api/v1/vaults/{id}/classes", "POST", "/api/v1/vaults/{id}/classes", IdKind.Vault,
            """{"name":"mallory","cdmi_retention_period":"P1D","mode":"governance"}"""),
        new("GET /api/v1/vaults/{id}/classes", "GET", "/api/v1/vaults/{id}/classes", IdKind.Vault),
        new("POST /api/v1/vaults/{id}/records", "POST", "/api/v1/vaults/{id}/records?key=planted", IdKind.Vault, "mallory's bytes"),
        new("GET /api/v1/vaults/{id}/records", "GET", "/api/v1/vaults/{id}/records", IdKind.Vault),
        new("GET /api/v1/vaults/{id}/certificates", "GET", "/api/v1/vaults/{id}/certificates", IdKind.Vault),
        new("GET /api/v1/vaults/{id}/sox-report", "GET", "/api/v1/vaults/{id}/sox-report", IdKind.Vault),
        new("GET /api/v1/accounts/{id}/sox-report", "GET", "/api/v1/accounts/{id}/sox-report", IdKind.Account),
        new("GET /api/v1/vaults/{id}/records/{recordId}", "GET", "/api/v1/vaults/{vault}/records/{id}", IdKind.VaultRecord),
        new("GET /api/v1/vaults/{id}/records/{recordId}/content", "GET", "/api/v1/vaults/{vault}/records/{id}/content", IdKind.VaultRecord),
        new("DELETE /api/v1/vaults/{id}/records/{recordId}", "DELETE", "/api/v1/vaults/{vault}/records/{id}?bypassGovernance=true", IdKind.VaultRecord),
        new("PUT /api/v1/vaults/{id}/records/{recordId}/retention", "PUT", "/api/v1/vaults/{vault}/records/{id}/retention", IdKind.VaultRecord,
            """{"mode":"governance","retainUntil":"2099-01-01T00:00:00Z"}"""),
        new("PUT /api/v1/vaults/{id}/records/{recordId}/holds/{holdId}", "PUT", "/api/v1/vaults/{vault}/records/{id}/holds/mallory", IdKind.VaultRecord),
        new("DELETE /api/v1/vaults/{id}/records/{recordId}/holds/{holdId}", "DELETE", "/api/v1/vaults/{vault}/records/{id}/holds/case-1", IdKind.VaultRecord),
        new("GET /api/v1/vaults/{id}/certificates/{recordId}", "GET", "/api/v1/vaults/{vault}/certificates/{id}", IdKind.VaultCertificate),
        // Vault grants: the victim granted its vault's records to a regulator.
        new("POST /api/v1/vault-grants", "POST", "/api/v1/vault-grants", IdKind.Vault,
            """{"vaultId":"{id}","regulatorId":"prn_01h00000000000000000000000","expires":"2030-01-01T00:00:00Z"}"""),
        new("DELETE /api/v1/vault-grants/{id}", "DELETE", "/api/v1/vault-grants/{id}", IdKind.VaultGrant),
        new("GET /api/v1/accounts/{id}/billing-address", "GET", "/api/v1/accounts/{id}/billing-address", IdKind.Account),
        new("PUT /api/v1/accounts/{id}/billing-address", "PUT", "/api/v1/accounts/{id}/billing-address", IdKind.Account, """{"address":"Mallory Street 1"}"""),
    ];

    public static readonly IReadOnlyList<CollectionRoute> Collections =
    [
        new("GET /api/v1/accounts", "/api/v1/accounts?limit=500"),
        new("GET /api/v1/principals", "/api/v1/principals?limit=500"),
        new("GET /api/v1/audit", "/api/v1/audit?limit=1000"),
        new("GET /api/v1/contracts", "/api/v1/contracts?limit=500"),
        new("GET /api/v1/instances", "/api/v1/instances?limit=500"),
        new("GET /api/v1/machines", "/api/v1/machines?limit=500"),
        new("GET /api/v1/jobs", "/api/v1/jobs?limit=500"),
        new("GET /api/v1/events", "/api/v1/events?limit=1000"),
        new("GET /api/v1/volumes", "/api/v1/volumes?limit=500"),
        new("GET /api/v1/networks", "/api/v1/networks?limit=500"),
        new("GET /api/v1/limit-requests", "/api/v1/limit-requests?limit=500"),
        new("GET /api/v1/uploads", "/api/v1/uploads?limit=500"),
        new("GET /api/v1/account-images", "/api/v1/account-images?limit=500"),
        new("GET /api/v1/vaults", "/api/v1/vaults?limit=500"),
        new("GET /api/v1/vault-grants", "/api/v1/vault-grants?limit=500"),
    ];

    public static readonly IReadOnlyList<ProviderOnlyRoute> ProviderOnly =
    [
        new("GET /api/v1/fabric/hosts", "GET", "/api/v1/fabric/hosts"),
        new("GET /api/v1/fabric/hosts/{name}", "GET", "/api/v1/fabric/hosts/sim-us-east-1"),
        new("POST /api/v1/fabric/hosts/{name}/state", "POST", "/api/v1/fabric/hosts/sim-us-east-1/state", """{"down":false}"""),
        new("POST /api/v1/audit/verify", "POST", "/api/v1/audit/verify"),
        // Only the regulator a grant names makes its links.
        new("POST /api/v1/vault-grants/{id}/links", "POST", "/api/v1/vault-grants/vgr_01h00000000000000000000000/links", "{}"),
        // A live move between clouds is prepared, completed and aborted by the peer cloud only (a principal of kind cloud,
        // on the federation listener): every other principal is refused before anything is looked up.
        new("POST /api/v1/machines/incoming", "POST", "/api/v1/machines/incoming",
            $$"""{"contractId":"{{Ctr}}","virtualSystem":"web","vcpus":1,"memoryMiB":256,"diskGiB":1,"disks":[{"id":"root","virtualSizeBytes":1073741824}],"running":true}"""),
        new("POST /api/v1/machines/incoming/{id}/complete", "POST", "/api/v1/machines/incoming/mch_01h00000000000000000000000/complete"),
        new("DELETE /api/v1/machines/incoming/{id}", "DELETE", "/api/v1/machines/incoming/mch_01h00000000000000000000000"),
        // A machine goes home live on its peer cloud's word only, under the same rule.
        new("GET /api/v1/machines/{id}/outgoing", "GET", "/api/v1/machines/mch_01h00000000000000000000000/outgoing"),
        new("POST /api/v1/machines/{id}/send", "POST", "/api/v1/machines/mch_01h00000000000000000000000/send",
            """{"address":"192.0.2.1","diskPort":10809,"migrationPort":4444,"exports":{"root":"root"},"peerName":"cloud2.example"}"""),
        new("GET /api/v1/machines/{id}/send", "GET", "/api/v1/machines/mch_01h00000000000000000000000/send"),
        new("POST /api/v1/machines/{id}/send/handover", "POST", "/api/v1/machines/mch_01h00000000000000000000000/send/handover"),
        new("DELETE /api/v1/machines/{id}/send", "DELETE", "/api/v1/machines/mch_01h00000000000000000000000/send"),
        // The federation's peers are the operators' view of other clouds.
        new("GET /api/v1/federation/peers", "GET", "/api/v1/federation/peers"),
        new("GET /api/v1/federation/peers/{peer}", "GET", "/api/v1/federation/peers/ProviderCo-DE"),
        new("POST /api/v1/federation/peers/{peer}/distrust", "POST", "/api/v1/federation/peers/ProviderCo-DE/distrust", """{"reason":"mine"}"""),
        new("POST /api/v1/federation/peers/{peer}/trust", "POST", "/api/v1/federation/peers/ProviderCo-DE/trust"),
        // Federation agreements and the federation policy are the provider admin's: they open accounts for peer clouds.
        new("GET /api/v1/federation/policy", "GET", "/api/v1/federation/policy"),
        new("PUT /api/v1/federation/policy", "PUT", "/api/v1/federation/policy",
            """{"peers":["*"],"jurisdictions":[],"offerings":[],"maxUnits":{"compute-unit":1000},"capacityReservePercent":0,"encryptionAtRest":false,"isolation":"shared"}"""),
        new("GET /api/v1/federation/agreements", "GET", "/api/v1/federation/agreements"),
        new("POST /api/v1/federation/agreements", "POST", "/api/v1/federation/agreements",
            """{"peer":"ProviderCo-DE","terms":{"policy":{"jurisdictions":["DE"]},"entitlement":{"units":{"compute-unit":1},"offerings":[{"offeringId":"off_01h00000000000000000000000","quantity":1}]},"metering":{"currency":"USD"}}}"""),
        new("GET /api/v1/federation/agreements/{id}", "GET", "/api/v1/federation/agreements/" + Agr),
        new("PUT /api/v1/federation/agreements/{id}", "PUT", "/api/v1/federation/agreements/" + Agr,
            """{"version":1,"terms":{"policy":{"jurisdictions":["DE"]},"entitlement":{"units":{"compute-unit":1},"offerings":[{"offeringId":"off_01h00000000000000000000000","quantity":1}]},"metering":{"currency":"USD"}}}"""),
        new("POST /api/v1/federation/agreements/{id}/terminate", "POST", "/api/v1/federation/agreements/" + Agr + "/terminate", """{"reason":"mine"}"""),
        new("GET /api/v1/federation/agreements/{id}/usage", "GET", "/api/v1/federation/agreements/" + Agr + "/usage"),
        // Resales publish peers' offerings in this cloud's catalog under its agreements.
        new("GET /api/v1/federation/resales", "GET", "/api/v1/federation/resales"),
        new("POST /api/v1/federation/resales", "POST", "/api/v1/federation/resales",
            """{"agreementId":"agr_01h00000000000000000000000","offeringId":"off_01h00000000000000000000000","marginPercent":10}"""),
        new("GET /api/v1/federation/resales/{id}", "GET", "/api/v1/federation/resales/rsl_01h00000000000000000000000"),
        // Bursting places consumers' machines in peers' pools at the cloud's cost: the provider admin's policy.
        new("GET /api/v1/federation/burst", "GET", "/api/v1/federation/burst"),
        new("GET /api/v1/federation/agreements/{id}/reconciliation", "GET", "/api/v1/federation/agreements/" + Agr + "/reconciliation?period=2026-01"),
        new("PUT /api/v1/federation/burst", "PUT", "/api/v1/federation/burst", """{"enabled":true,"peers":["ProviderCo-DE"],"maxPricePerCpuHour":0.05,"version":0}"""),
        // Federated selection asks the peers in this cloud's name: the operators' too.
        new("GET /api/v1/federation/offers", "GET", "/api/v1/federation/offers?vcpus=2"),
        new("POST /api/v1/federation/query", "POST", "/api/v1/federation/query", """{"sparql":"ASK {}"}"""),
        // On a real-clock server the advance answers not-simulated, but only to a caller who may advance.
        new("POST /api/v1/clock/advance", "POST", "/api/v1/clock/advance", """{"by":"PT1H"}"""),
        // Letting a pending account in, and deciding on limit requests, are the provider admin's.
        new("POST /api/v1/accounts/{id}/approve", "POST", "/api/v1/accounts/" + Acc + "/approve", "{}"),
        new("POST /api/v1/accounts/{id}/refuse", "POST", "/api/v1/accounts/" + Acc + "/refuse", """{"reason":"no"}"""),
        new("POST /api/v1/limit-requests/{id}/approve", "POST", "/api/v1/limit-requests/" + Lrq + "/approve", "{}"),
        new("POST /api/v1/limit-requests/{id}/refuse", "POST", "/api/v1/limit-requests/" + Lrq + "/refuse", """{"reason":"no"}"""),
        // The checkpoints and the signing key vouch for the whole log, every account's entries included.
        new("GET /api/v1/audit/checkpoints", "GET", "/api/v1/audit/checkpoints"),
        new("POST /api/v1/audit/checkpoints", "POST", "/api/v1/audit/checkpoints"),
        new("GET /api/v1/audit/signing-key", "GET", "/api/v1/audit/signing-key"),
        // Simulated load is the fabric operators' tool, whoever's machine it is.
        new("PUT /api/v1/fabric/machines/{id}/load", "PUT", "/api/v1/fabric/machines/mch_01h00000000000000000000000/load", """{"cpuUtilizationPercent":50}"""),
        new("PUT /api/v1/fabric/instances/{id}/load", "PUT", "/api/v1/fabric/instances/ins_01h00000000000000000000000/load", """{"cpuUtilizationPercent":50}"""),
        // Catalog authoring (templates, offerings in every state, images) is the provider's alone.
        new("GET /api/v1/templates", "GET", "/api/v1/templates"),
        new("GET /api/v1/templates/{id}", "GET", "/api/v1/templates/" + Tpl),
        new("PUT /api/v1/templates/{id}", "PUT", "/api/v1/templates/" + Tpl, """{"spec":{"name":"x","virtualSystems":[]}}"""),
        new("GET /api/v1/templates/{id}/versions", "GET", "/api/v1/templates/" + Tpl + "/versions"),
        new("POST /api/v1/templates/{id}/versions", "POST", "/api/v1/templates/" + Tpl + "/versions", "{}"),
        new("GET /api/v1/templates/{id}/versions/{n}", "GET", "/api/v1/templates/" + Tpl + "/versions/1"),
        new("POST /api/v1/templates/{id}/publish", "POST", "/api/v1/templates/" + Tpl + "/publish", "{}"),
        new("POST /api/v1/templates/{id}/retire", "POST", "/api/v1/templates/" + Tpl + "/retire", "{}"),
        new("GET /api/v1/templates/{id}/export", "GET", "/api/v1/templates/" + Tpl + "/export"),
        new("POST /api/v1/templates/import", "POST", "/api/v1/templates/import"),
        new("GET /api/v1/offerings", "GET", "/api/v1/offerings"),
        new("GET /api/v1/offerings/{id}", "GET", "/api/v1/offerings/" + Off),
        new("PUT /api/v1/offerings/{id}", "PUT", "/api/v1/offerings/" + Off,
            """{"spec":{"name":"x","kind":"storage","pricePlan":{"currency":"USD","billingPeriod":"month","rates":[]},"sla":{"availabilityPercent":99},"terms":{"minimumPeriodMonths":0,"unprovisionedDiscountPercent":0},"limitUnit":"storage-unit"}}"""),
        new("POST /api/v1/offerings/{id}/publish", "POST", "/api/v1/offerings/" + Off + "/publish", "{}"),
        new("POST /api/v1/offerings/{id}/withdraw", "POST", "/api/v1/offerings/" + Off + "/withdraw", "{}"),
        new("GET /api/v1/images", "GET", "/api/v1/images"),
        new("GET /api/v1/images/{id}", "GET", "/api/v1/images/" + Img),
        new("DELETE /api/v1/images/{id}", "DELETE", "/api/v1/images/" + Img),
        new("GET /api/v1/images/{id}/content", "GET", "/api/v1/images/" + Img + "/content"),
        new("PUT /api/v1/images/{id}/boot", "PUT", "/api/v1/images/" + Img + "/boot", """{"readyMarker":"up"}"""),
        // Moving machines between hosts is the provider's decision (Change Manager, operators).
        new("POST /api/v1/machines/{id}/migrate", "POST", "/api/v1/machines/mch_01h00000000000000000000000/migrate", """{"host":"sim-us-east-2"}"""),
        // So is moving them to another cloud.
        new("POST /api/v1/machines/{id}/move", "POST", "/api/v1/machines/mch_01h00000000000000000000000/move", """{"cloud":"Cloud2"}"""),
        // Operators acknowledge incidents on the fabric.
        new("POST /api/v1/fabric/machines/{id}/acknowledge", "POST", "/api/v1/fabric/machines/mch_01h00000000000000000000000/acknowledge"),
        // Issuing invoices and repricing contracts are billing-write, a provider permission.
        new("POST /api/v1/accounts/{id}/invoices", "POST", "/api/v1/accounts/" + Acc + "/invoices", """{"period":"2026-01"}"""),
        new("POST /api/v1/contracts/{id}/price-plans", "POST", "/api/v1/contracts/" + Ctr + "/price-plans",
            """{"item":0,"effectiveFrom":"2030-01-01T00:00:00Z","pricePlan":{"currency":"USD","billingPeriod":"month","rates":[{"metric":"cpu-hour","unit":"hour","price":0.01}]}}"""),
    ];

    /// <summary>
    /// S3 operations. In paths, bodies and headers, {bucket} is the victim's bucket, {key} its object (one version,
    /// "victim's bytes"), {version} that version's id, {locked} the id of a second, retained version of it, {upload}
    /// an open multipart upload of that key and {part} the ETag of its part 1. A body goes with its Content-MD5. Account: the answer lists the caller's own (the victim's bucket never
    /// appears to another account); Bucket and Key: another account gets NoSuchBucket (or AccessDenied), as for a
    /// bucket that does not exist.
    /// </summary>
    public static readonly IReadOnlyList<S3Route> S3 =
    [
        new("ListBuckets", S3Level.Account, "GET", "/"),
        new("HeadBucket", S3Level.Bucket, "HEAD", "/{bucket}"),
        new("GetBucketVersioning", S3Level.Bucket, "GET", "/{bucket}?versioning"),
        new("GetObjectLockConfiguration", S3Level.Bucket, "GET", "/{bucket}?object-lock"),
        new("GetBucketLocation", S3Level.Bucket, "GET", "/{bucket}?location"),
        new("ListObjects", S3Level.Bucket, "GET", "/{bucket}"),
        new("ListObjectsV2", S3Level.Bucket, "GET", "/{bucket}?list-type=2"),
        new("PutObject", S3Level.Key, "PUT", "/{bucket}/{key}", "mallory's bytes"),
        new("GetObject", S3Level.Key, "GET", "/{bucket}/{key}"),
        new("HeadObject", S3Level.Key, "HEAD", "/{bucket}/{key}"),
        new("DeleteObject", S3Level.Key, "DELETE", "/{bucket}/{key}?versionId={version}"),
        new("PutBucketVersioning", S3Level.Bucket, "PUT", "/{bucket}?versioning",
            "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>"),
        new("PutObjectLockConfiguration", S3Level.Bucket, "PUT", "/{bucket}?object-lock",
            "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"),
        new("GetObjectRetention", S3Level.Key, "GET", "/{bucket}/{key}?retention&versionId={locked}"),
        new("PutObjectRetention", S3Level.Key, "PUT", "/{bucket}/{key}?retention&versionId={version}",
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>GOVERNANCE</Mode><RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>"),
        new("GetObjectLegalHold", S3Level.Key, "GET", "/{bucket}/{key}?legal-hold&versionId={version}"),
        new("PutObjectLegalHold", S3Level.Key, "PUT", "/{bucket}/{key}?legal-hold&versionId={version}",
            "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>ON</Status></LegalHold>"),
        new("ListMultipartUploads", S3Level.Bucket, "GET", "/{bucket}?uploads"),
        new("CreateMultipartUpload", S3Level.Key, "POST", "/{bucket}/{key}?uploads"),
        new("UploadPart", S3Level.Key, "PUT", "/{bucket}/{key}?partNumber=2&uploadId={upload}", "mallory's part"),
        new("ListParts", S3Level.Key, "GET", "/{bucket}/{key}?uploadId={upload}"),
        new("CompleteMultipartUpload", S3Level.Key, "POST", "/{bucket}/{key}?uploadId={upload}",
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{part}</ETag></Part></CompleteMultipartUpload>"),
        new("AbortMultipartUpload", S3Level.Key, "DELETE", "/{bucket}/{key}?uploadId={upload}"),
        new("ListObjectVersions", S3Level.Bucket, "GET", "/{bucket}?versions"),
        new("DeleteObjects", S3Level.Bucket, "POST", "/{bucket}?delete",
            "<Delete><Object><Key>{key}</Key><VersionId>{version}</VersionId></Object></Delete>"),
        new("CopyObject", S3Level.Key, "PUT", "/{bucket}/copy.csv", Header: "x-amz-copy-source: /{bucket}/{key}?versionId={version}"),
    ];

    public static readonly IReadOnlyDictionary<string, string> Public = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // The caller's own principal: no id, nothing of anyone else.
        ["GET /api/v1/me"] = "self only",
        // The role → permission table: the same for every caller, published in docs/security.md.
        ["GET /api/v1/roles"] = "static, public",
        // The OpenAPI description of the interface.
        ["GET /api/v1/openapi.json"] = "static, public",
        // The published catalog is the same for every caller (anonymous included): published
        // offerings only, no account data; tests in Catalog/ prove drafts and withdrawn ones 404 there.
        ["GET /api/v1/catalog/offerings"] = "published offerings, public",
        ["GET /api/v1/catalog/offerings/{id}"] = "published offerings, public",
        // The same published offerings as RDF, with the cloud's public identity and regions.
        ["GET /api/v1/catalog/description"] = "published offerings as RDF, public",
        ["GET /api/v1/catalog/sparql"] = "SPARQL over the published offerings' RDF, public",
        ["POST /api/v1/catalog/sparql"] = "SPARQL over the published offerings' RDF, public",
        // The server's clock (mode and time): the same for every caller.
        ["GET /api/v1/clock"] = "server time, same for everyone",
        // The public half of the cloud's signing key, which verifies destruction certificates: the same for every caller.
        ["GET /api/v1/vault-keys/certificate-key"] = "the cloud's public key, same for everyone",
        // A signed link is its own credential, bound to one grant, record and expiry; VaultGrantTests prove that an
        // altered, expired or revoked one is refused, and that the regulator reaches nothing else.
        ["GET /api/v1/vault-links/{grantId}/{recordId}"] = "signed, expiring link; the signature is the credential",
        // Federation listener only, where the caller is a peer cloud authenticated by its client
        // certificate (mutual TLS), not a tenant with a token: it answers this cloud's public identity
        // and the caller's own certificate back. FederationListenerTests prove the refusals.
        ["GET /federation/v1/hello"] = "peer clouds by certificate; this cloud's identity and the caller's own",
        // Federation listener only, peer clouds by certificate: an agreement is found only by the peer whose
        // certificate fingerprint it holds (another peer gets 404); AgreementTests prove it.
        ["POST /federation/v1/agreements"] = "peer clouds by certificate; their own proposals only",
        ["PUT /federation/v1/agreements/{id}"] = "peer clouds by certificate; their own agreements only",
        ["POST /federation/v1/agreements/{id}/terminate"] = "peer clouds by certificate; their own agreements only",
    };
}

public enum IdKind
{
    Account,
    Principal,
    Token,
    AccessKey,
    Contract,
    Instance,
    Machine,
    Job,
    Volume,
    Network,
    Invoice,
    LimitRequest,
    Upload,
    AccountImage,
    Vault,
    VaultRecord,
    VaultCertificate,
    VaultGrant,
}

/// <param name="Route">"METHOD /pattern" exactly as routing knows it (trailing slash dropped).</param>
/// <param name="Path">The request path; "{id}" is replaced by the id under test (also in <paramref name="Body"/>).</param>
public sealed record IdRoute(string Route, string Method, string Path, IdKind Kind, string? Body = null)
{
    public override string ToString() => Path;
}

/// <summary>What an S3 operation addresses: the caller's account (ListBuckets), a bucket, or a key (an object) of a bucket.</summary>
public enum S3Level
{
    Account,
    Bucket,
    Key,
}

/// <param name="Operation">AWS's name of the operation, as <c>S3Operations.Served</c> lists it.</param>
/// <param name="PathAndQuery">The request target, with {bucket}, {key} and {version} replaced (also in <paramref name="Body"/>).</param>
/// <param name="Header">A header the operation needs, <c>name: value</c> (e.g. CopyObject's source), with the same placeholders.</param>
public sealed record S3Route(string Operation, S3Level Level, string Method, string PathAndQuery, string? Body = null, string? Header = null)
{
    public override string ToString() => Operation;
}

public sealed record CollectionRoute(string Route, string Path)
{
    public override string ToString() => Path;
}

public sealed record ProviderOnlyRoute(string Route, string Method, string Path, string? Body = null)
{
    public override string ToString() => $"{Method} {Path}";
}
