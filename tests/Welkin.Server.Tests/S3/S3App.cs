using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Amazon.Runtime;
using Amazon.S3;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Security;
using Welkin.Server.S3;
using Welkin.Server.Tests.Security;
using Welkin.Testing;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// A cloud on real Kestrel with its S3 face on a loopback port of its own, every log line captured (with
/// the server's own log filters), and a bucket store the tests fill per account in place of the vaults.
/// </summary>
public class S3App : WelkinApp
{
    public int S3Port { get; } = Loopback.FreePort();

    public Uri S3Endpoint => new($"http://127.0.0.1:{S3Port.ToString(CultureInfo.InvariantCulture)}");

    public TestBuckets Buckets { get; } = new();

    /// <summary>Whether the buckets are <see cref="Buckets"/> (true) or the cloud's own vaults.</summary>
    protected virtual bool TestBucketStore => true;

    public CapturedLogs Logs { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Welkin:Port"] = "0",
        ["S3:Listen"] = "127.0.0.1:" + S3Port.ToString(CultureInfo.InvariantCulture),
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        if (TestBucketStore)
        {
            builder.ConfigureTestServices(services => services.AddSingleton<IS3Buckets>(Buckets));
        }
    }

    public override ValueTask InitializeAsync()
    {
        UseKestrel();
        StartServer();
        // The server listens on two ports: the clients the fixture makes talk to the API's.
        ClientOptions.BaseAddress = ApiAddress;
        return ValueTask.CompletedTask;
    }

    /// <summary>The ordinary API's address.</summary>
    public Uri ApiAddress => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
        .Single(a => !a.EndsWith(":" + S3Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)));

    public HttpClient Api(string token)
    {
        var client = new HttpClient { BaseAddress = ApiAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>A fresh account and an access key of its account-admin.</summary>
    public async Task<(SignUpResponse Account, HttpClient Admin, IssuedAccessKey Key)> AccountWithKeyAsync()
    {
        var name = "s3-" + Guid.NewGuid().ToString("n")[..12];
        using var anonymous = new HttpClient { BaseAddress = ApiAddress };
        var signUp = await (await anonymous.PostAsJsonAsync("/api/v1/catalog/sign-up", new SignUpRequest(name, "S3 tests", new SignUpAdmin("admin")), WelkinJson.Client))
            .ReadAsync<SignUpResponse>(HttpStatusCode.Created);
        var admin = Api(signUp.Token.Secret);
        return (signUp, admin, await KeyOfAsync(admin, signUp.Admin.Id));
    }

    /// <summary>A new access key of <paramref name="principalId"/>, made by <paramref name="admin"/>.</summary>
    public async Task<IssuedAccessKey> KeyOfAsync(HttpClient admin, string principalId) =>
        await (await admin.PostAsJsonAsync($"/api/v1/principals/{principalId}/access-keys", new CreateAccessKeyRequest("tests"), WelkinJson.Client))
            .ReadAsync<IssuedAccessKey>(HttpStatusCode.Created);

    /// <summary>
    /// AWSSDK.S3's client for this endpoint (path-style, no retries, so every refusal is seen as it came): at the SDK's
    /// defaults (a CRC32 trailer on every upload), or sending checksums only where S3 requires one, so that a test
    /// chooses its requests' checksums itself.
    /// </summary>
    public AmazonS3Client S3Client(string accessKeyId, string secret, bool checksumsWhenRequired = false)
    {
        var config = new AmazonS3Config
        {
            ServiceURL = S3Endpoint.AbsoluteUri,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            MaxErrorRetry = 0,
        };
        if (checksumsWhenRequired)
        {
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }
        return new AmazonS3Client(new BasicAWSCredentials(accessKeyId, secret), config);
    }

    public HttpClient Raw() => new() { BaseAddress = S3Endpoint };
}

/// <summary>The S3 face over the cloud's own vaults.</summary>
public sealed class S3VaultApp : S3App
{
    protected override bool TestBucketStore => false;
}

/// <summary>Buckets per account, in place of the vault store; a caller sees its own account's only, with the resources-read permission.</summary>
public sealed class TestBuckets : IS3Buckets
{
    private readonly ConcurrentDictionary<string, List<S3Bucket>> _byAccount = new(StringComparer.Ordinal);

    public void Add(string accountId, string name, DateTimeOffset created) =>
        _byAccount.AddOrUpdate(accountId, _ => [new S3Bucket(name, created)], (_, list) => [.. list, new S3Bucket(name, created)]);

    public Task<Result<IReadOnlyList<S3Bucket>>> ListAsync(Caller caller, CancellationToken ct)
    {
        Result<IReadOnlyList<S3Bucket>> result = Tenancy.Require(caller, Permission.ResourcesRead, "Listing buckets") is { } denied
            ? denied
            : caller.AccountId is { } account && _byAccount.TryGetValue(account, out var list) ? list.ToList() : new List<S3Bucket>();
        return Task.FromResult(result);
    }
}
