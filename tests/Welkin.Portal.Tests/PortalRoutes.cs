namespace Welkin.Portal.Tests;

/// <summary>
/// THE table of the portal's routes for tenant isolation (see <see cref="PortalIsolationTests"/>). A new page or portal
/// endpoint goes into exactly one list.
/// </summary>
public static class PortalRoutes
{
    /// <summary>Pages anyone may open; they show the public catalog or forms, nothing of a tenant.</summary>
    public static readonly IReadOnlyList<string> Anonymous = ["/", "/catalog", "/sign-in", "/sign-up", "/sign-out"];

    /// <summary>Pages of the signed-in person's own items, without an id in the route.</summary>
    public static readonly IReadOnlyList<string> Listings =
    [
        "/clouds", "/vaults", "/volumes", "/networks", "/contracts", "/instances", "/machines", "/usage", "/invoices", "/limits", "/principals",
    ];

    /// <summary>
    /// Routes with an id whose isolation a test class of their own proves (the victim's item needs a setup the shared
    /// world does not have): route → the class.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> IdRoutesTestedElsewhere = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["/vaults/{Id}"] = nameof(VaultIsolationTests),
        ["/vaults/{id}/records"] = nameof(VaultIsolationTests),
        ["/vaults/{id}/records/{recordId}"] = nameof(VaultIsolationTests),
        ["/vaults/{id}/sox-report"] = nameof(VaultIsolationTests),
        ["/invoices/{Id}"] = nameof(MoneyIsolationTests),
        ["/invoices/{id}/html"] = nameof(MoneyIsolationTests),
        ["/invoices/{id}/pdf"] = nameof(MoneyIsolationTests),
        ["/principals/{Id}"] = nameof(MoneyIsolationTests),
        ["/machines/{id}/console/socket"] = nameof(Compute.MachineConsoleTests),
    };

    /// <summary>
    /// The provider's pages and endpoints: an account's person gets 403 (an id in the route is filled with
    /// <see cref="ProviderRouteId"/>). POST-only endpoints are posted an empty form with a valid antiforgery token.
    /// </summary>
    public static readonly IReadOnlyList<string> ProviderOnly =
    [
        "/provider/templates", "/provider/templates/{Id}", "/provider/offerings", "/provider/images",
        "POST /provider/images/upload", "POST /provider/images/import",
        "/provider/accounts", "/provider/accounts/{Id}", "/provider/hosts", "/provider/price-plans", "/provider/audit",
        "/provider/federation", "/provider/clock",
    ];

    public const string ProviderRouteId = "tpl_01h00000000000000000000000";

    /// <summary>Pages of one item named by id; the missing id is well-formed and exists nowhere.</summary>
    public static readonly IReadOnlyList<IdRoute> IdRoutes =
    [
        new("/jobs/{Id}", w => Task.FromResult(w.VictimJob), "job_01h00000000000000000000000"),
        new("/jobs/{id}/state", w => Task.FromResult(w.VictimJob), "job_01h00000000000000000000000"),
        new("/contracts/{Id}", w => Task.FromResult(w.VictimContract.Id), "ctr_01h00000000000000000000000"),
        new("/contracts/{Id}/report", w => Task.FromResult(w.VictimContract.Id), "ctr_01h00000000000000000000000"),
        new("/instances/{Id}", w => Task.FromResult(w.VictimInstance.Id), "ins_01h00000000000000000000000"),
        new("/machines/{Id}", w => Task.FromResult(w.VictimMachines[0].Id), "mch_01h00000000000000000000000"),
        new("/machines/{Id}/console", w => Task.FromResult(w.VictimMachines[0].Id), "mch_01h00000000000000000000000"),
    ];

    public sealed record IdRoute(string Route, Func<PortalIsolationApp.World, Task<string>> VictimId, string MissingId);
}
