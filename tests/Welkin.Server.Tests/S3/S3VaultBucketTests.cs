using System.Net;
using Welkin.Server.Tests.Vault;

namespace Welkin.Server.Tests.S3;

/// <summary>ListBuckets over the cloud's own vaults: an account's access key lists its vaults by name, and no other account's.</summary>
public sealed class S3VaultBucketTests(S3VaultApp app) : IClassFixture<S3VaultApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ListBuckets_AnswersTheCallersVaults_AndNoOtherAccounts()
    {
        var (tenant, vault) = await VaultApi.VaultAsync(app);
        var key = await app.KeyOfAsync(tenant.Client, tenant.SignUp.Admin.Id);
        var (_, _, strangerKey) = await app.AccountWithKeyAsync();
        using var s3 = app.S3Client(key.Id, key.Secret);
        using var stranger = app.S3Client(strangerKey.Id, strangerKey.Secret);

        var own = await s3.ListBucketsAsync(Ct);
        var others = await stranger.ListBucketsAsync(Ct);

        own.HttpStatusCode.ShouldBe(HttpStatusCode.OK);
        own.Buckets.Select(b => b.BucketName).ShouldBe([vault.Name]);
        (own.Buckets[0].CreationDate!.Value.ToUniversalTime() - vault.Created.UtcDateTime).Duration().ShouldBeLessThan(TimeSpan.FromSeconds(1));
        (others.Buckets ?? []).ShouldBeEmpty();
    }
}
