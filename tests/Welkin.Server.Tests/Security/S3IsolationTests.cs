using System.Net;
using System.Text;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Server.S3;
using Welkin.Server.Tests.S3;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.Security;

/// <summary>
/// Tenant isolation on the S3 face, one case per operation of <see cref="IsolationTable.S3"/>: another
/// account's access key gets the answer of a missing bucket and changes nothing; the victim's own key
/// is served the same request.
/// </summary>
public sealed class S3IsolationTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private const string VictimBytes = "victim's bytes";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Operations() => new(IsolationTable.S3.Select(r => r.Operation));

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task AnotherAccountsKey_GetsTheAnswerOfAMissingBucket_AndChangesNothing(string operation)
    {
        var route = IsolationTable.S3.Single(r => r.Operation == operation);
        var victim = await VictimAsync();
        var (_, _, attacker) = await app.AccountWithKeyAsync();

        var foreign = await SendAsync(attacker, route, victim);
        var missing = await SendAsync(attacker, route, victim with { Bucket = "no-such-bucket-" + Guid.NewGuid().ToString("n")[..8] });
        var (contentAfter, keysAfter) = await VictimStateAsync(victim);
        var own = await SendAsync(victim.Key, route, victim);

        if (route.Level == S3Level.Account)
        {
            foreign.Status.ShouldBe(HttpStatusCode.OK);
            foreign.Text.ShouldNotContain(victim.Bucket);
            own.Text.ShouldContain(victim.Bucket);
        }
        else
        {
            foreign.Status.ShouldBeOneOf(HttpStatusCode.NotFound, HttpStatusCode.Forbidden);
            foreign.Status.ShouldBe(missing.Status);
            foreign.Code.ShouldBe(missing.Code);
            if (route.Method != "HEAD")
            {
                foreign.Code.ShouldBeOneOf("NoSuchBucket", "AccessDenied");
            }
        }
        contentAfter.ShouldBe(VictimBytes);
        keysAfter.ShouldBe([victim.ObjectKey]);
        ((int)own.Status).ShouldBeInRange(200, 299, $"the victim's own {operation} must be served: {own.Text}");
    }

    [Fact]
    public void EveryServedS3Operation_IsInTheIsolationTable()
    {
        var classified = IsolationTable.S3.Select(r => r.Operation).ToList();

        classified.ShouldBeUnique();
        S3Operations.Served.Except(classified).ShouldBeEmpty(
            "These S3 operations are served but not classified in tests/Welkin.Server.Tests/Security/IsolationTable.cs (S3)");
        classified.Except(S3Operations.Served).ShouldBeEmpty("IsolationTable.S3 names operations the S3 face does not serve");
    }

    private sealed record Victim(string Bucket, string ObjectKey, string VersionId, IssuedAccessKey Key);

    /// <summary>A fresh account with a vault holding one object of one version.</summary>
    private async Task<Victim> VictimAsync()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        using var raw = app.Raw();
        using var put = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, key, "PUT", $"/{vault.Name}/ledger.csv", Encoding.UTF8.GetBytes(VictimBytes)), Ct);
        put.StatusCode.ShouldBe(HttpStatusCode.OK, await put.Content.ReadAsStringAsync(Ct));
        return new Victim(vault.Name, "ledger.csv", put.Headers.GetValues("x-amz-version-id").Single(), key);
    }

    private async Task<(string Content, List<string> Keys)> VictimStateAsync(Victim victim)
    {
        using var raw = app.Raw();
        using var get = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, victim.Key, "GET", $"/{victim.Bucket}/{victim.ObjectKey}?versionId={victim.VersionId}"), Ct);
        using var list = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, victim.Key, "GET", $"/{victim.Bucket}?list-type=2"), Ct);
        var listing = XDocument.Parse(await list.Content.ReadAsStringAsync(Ct));
        var keys = listing.Descendants().Where(e => e.Name.LocalName == "Key").Select(e => e.Value).ToList();
        return (await get.Content.ReadAsStringAsync(Ct), keys);
    }

    private async Task<(HttpStatusCode Status, string? Code, string Text)> SendAsync(IssuedAccessKey key, S3Route route, Victim victim)
    {
        string Fill(string text) => text.Replace("{bucket}", victim.Bucket, StringComparison.Ordinal)
            .Replace("{key}", victim.ObjectKey, StringComparison.Ordinal).Replace("{version}", victim.VersionId, StringComparison.Ordinal);
        using var raw = app.Raw();
        using var response = await raw.SendAsync(S3Requests.Signed(app.S3Endpoint, key, route.Method, Fill(route.PathAndQuery),
            route.Body is null ? null : Encoding.UTF8.GetBytes(Fill(route.Body))), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        var code = text.StartsWith("<?xml", StringComparison.Ordinal) && XDocument.Parse(text).Root is { Name.LocalName: "Error" } error
            ? error.Elements().FirstOrDefault(e => e.Name.LocalName == "Code")?.Value
            : null;
        return (response.StatusCode, code, text);
    }
}
