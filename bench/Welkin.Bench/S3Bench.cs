using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Welkin.Contracts;

namespace Welkin.Bench;

/// <summary>
/// PUT and GET through the S3 face of a real welkin-server process (Release build, loopback, SQLite,
/// its data directory in the bench's directory) with AWSSDK.S3 at its default settings (aws-chunked
/// with signed chunks and a CRC32 trailer over HTTP), against writing (flushed to disk) and reading the
/// same bytes as plain files in the same directory, in the same run: many 1 MiB objects one after
/// another, and 256 MiB objects. The server's resident set is sampled during the 256 MiB transfers
/// and compared with its size before them: streamed, it stays flat.
/// </summary>
internal static class S3Bench
{
    private const string Bucket = "bench";

    public static async Task RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var small = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
        var root = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "welkin-s3-bench-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(root);
        var s3Port = ServerProcess.FreePort();
        Console.WriteLine($"welkin-bench s3: {Environment.ProcessorCount} cores, {rounds} rounds, {small} x 1 MiB and 1 x 256 MiB per round, AWSSDK.S3 defaults, directory {root}");
        try
        {
            await using var server = await ServerProcess.StartAsync(root, (port, dataDir) => Settings(port, s3Port, dataDir));
            using var s3 = await ClientAsync(server, s3Port);
            var source = Path.Combine(root, "source-256");
            await WriteRandomAsync(source, 256L << 20);
            var smallBodies = Enumerable.Range(0, small).Select(_ => RandomNumberGenerator.GetBytes(1 << 20)).ToList();

            var s3Small = new Times();
            var plainSmall = new Times();
            var s3Large = new Times();
            var plainLarge = new Times();
            long rssBefore = 0, rssPeak = 0;
            for (var round = 0; round < rounds; round++)
            {
                plainSmall.Put += await TimeAsync(() => PlainSmallWriteAsync(root, smallBodies));
                plainSmall.Get += await TimeAsync(() => PlainSmallReadAsync(root, small));
                s3Small.Put += await TimeAsync(() => S3SmallPutAsync(s3, smallBodies));
                s3Small.Get += await TimeAsync(() => S3SmallGetAsync(s3, small));

                plainLarge.Put += await TimeAsync(() => PlainCopyAsync(source, Path.Combine(root, "plain-256")));
                plainLarge.Get += await TimeAsync(() => DrainAsync(File.OpenRead(Path.Combine(root, "plain-256"))));
                var before = ResidentBytes(server.ProcessId);
                rssBefore = round == 0 ? before : Math.Min(rssBefore, before);
                using var sampling = new CancellationTokenSource();
                var sampler = SamplePeakAsync(server.ProcessId, sampling.Token);
                s3Large.Put += await TimeAsync(() => s3.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = "large.bin", FilePath = source }));
                s3Large.Get += await TimeAsync(async () =>
                {
                    using var got = await s3.GetObjectAsync(Bucket, "large.bin");
                    await DrainAsync(got.ResponseStream);
                });
                await sampling.CancelAsync();
                rssPeak = Math.Max(rssPeak, await sampler);
            }
            Report($"{small} x 1 MiB", small * (double)rounds, s3Small, plainSmall);
            Report("  256 MiB", 256.0 * rounds, s3Large, plainLarge);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"server resident set: {rssBefore >> 20} MiB before the 256 MiB transfers, peak {rssPeak >> 20} MiB during them"));
            await server.StopAsync();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed class Times
    {
        public double Put;
        public double Get;
    }

    private static void Report(string what, double mib, Times s3, Times plain) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: PUT S3 {mib / s3.Put,7:0.0} MiB/s vs plain file {mib / plain.Put,7:0.0} MiB/s (ratio {plain.Put / s3.Put:0.00}) | GET S3 {mib / s3.Get,7:0.0} MiB/s vs plain file {mib / plain.Get,7:0.0} MiB/s (ratio {plain.Get / s3.Get:0.00})"));

    /// <summary>A storage offering, an account with a contract for it, a vault named <see cref="Bucket"/>, and an access key of the account's admin.</summary>
    private static async Task<AmazonS3Client> ClientAsync(ServerProcess server, int s3Port)
    {
        var admin = server.Client(server.AdminToken);
        var offering = await ServerProcess.ReadAsync<OfferingView>(await admin.PostAsJsonAsync("/api/v1/offerings",
            new OfferingSpec("bench-storage", OfferingKind.Storage, new PricePlan("USD", "month", [new PriceRate("storage-tb-day", "tb-day", 5m)]),
                new SlaTerms(99.99m), new OfferingTerms(0, 25m), "storage-unit", Storage: new StorageSpec(100, 10_000)), WelkinJson.Client));
        await ServerProcess.ReadAsync<OfferingView>(await admin.PostAsJsonAsync($"/api/v1/offerings/{offering.Id}/publish", new OfferingTransitionRequest(), WelkinJson.Client));
        var signUp = await ServerProcess.ReadAsync<SignUpResponse>(await server.Client(null).PostAsJsonAsync("/api/v1/catalog/sign-up",
            new SignUpRequest("bench", "Bench Inc.", new SignUpAdmin("admin")), WelkinJson.Client));
        await ServerProcess.ReadAsync<AccountView>(await admin.PutAsJsonAsync($"/api/v1/accounts/{signUp.Account.Id}/limits",
            new SetLimitsRequest(new Dictionary<string, long> { ["storage-unit"] = 10_000 }), WelkinJson.Client));
        var client = server.Client(signUp.Token.Secret);
        var proposed = await ServerProcess.ReadAsync<ContractView>(await client.PostAsJsonAsync("/api/v1/contracts",
            new ContractRequest([new ContractItemRequest(offering.Id, 2)], Name: "bench"), WelkinJson.Client));
        await ServerProcess.ReadAsync<ContractView>(await client.PostAsJsonAsync($"/api/v1/contracts/{proposed.Id}/accept", new ContractTransitionRequest(), WelkinJson.Client));
        await ServerProcess.ReadAsync<VaultView>(await client.PostAsJsonAsync("/api/v1/vaults", new CreateVaultRequest(proposed.Id, 100, Bucket), WelkinJson.Client));
        var key = await ServerProcess.ReadAsync<IssuedAccessKey>(await client.PostAsJsonAsync($"/api/v1/principals/{signUp.Admin.Id}/access-keys",
            new CreateAccessKeyRequest("bench"), WelkinJson.Client));
        return new AmazonS3Client(new BasicAWSCredentials(key.Id, key.Secret), new AmazonS3Config
        {
            ServiceURL = $"http://127.0.0.1:{s3Port.ToString(CultureInfo.InvariantCulture)}",
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            Timeout = TimeSpan.FromMinutes(10),
        });
    }

    private static async Task S3SmallPutAsync(AmazonS3Client s3, List<byte[]> bodies)
    {
        for (var i = 0; i < bodies.Count; i++)
        {
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = $"small/{i:000}", InputStream = new MemoryStream(bodies[i]) });
        }
    }

    private static async Task S3SmallGetAsync(AmazonS3Client s3, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var got = await s3.GetObjectAsync(Bucket, $"small/{i:000}");
            await DrainAsync(got.ResponseStream);
        }
    }

    private static async Task PlainSmallWriteAsync(string root, List<byte[]> bodies)
    {
        for (var i = 0; i < bodies.Count; i++)
        {
            await using var output = new FileStream(Path.Combine(root, $"plain-small-{i}"), FileMode.Create, FileAccess.Write, FileShare.None, 1, useAsync: true);
            await output.WriteAsync(bodies[i]);
            output.Flush(flushToDisk: true);
        }
    }

    private static async Task PlainSmallReadAsync(string root, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await DrainAsync(File.OpenRead(Path.Combine(root, $"plain-small-{i}")));
        }
    }

    private static async Task PlainCopyAsync(string source, string target)
    {
        await using var input = File.OpenRead(source);
        await using var output = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 1, useAsync: true);
        await input.CopyToAsync(output, 64 * 1024);
        output.Flush(flushToDisk: true);
    }

    private static async Task DrainAsync(Stream stream)
    {
        await using var _ = stream;
        var buffer = new byte[64 * 1024];
        while (await stream.ReadAsync(buffer) > 0)
        {
        }
    }

    private static async Task<double> TimeAsync(Func<Task> work)
    {
        var watch = Stopwatch.StartNew();
        await work();
        return watch.Elapsed.TotalSeconds;
    }

    private static async Task WriteRandomAsync(string path, long size)
    {
        await using var file = File.Create(path);
        var buffer = new byte[1 << 20];
        for (long written = 0; written < size; written += buffer.Length)
        {
            RandomNumberGenerator.Fill(buffer);
            await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)));
        }
    }

    /// <summary>The process's resident set (VmRSS of /proc/PID/status), in bytes.</summary>
    private static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    private static async Task<long> SamplePeakAsync(int pid, CancellationToken ct)
    {
        var peak = ResidentBytes(pid);
        while (!ct.IsCancellationRequested)
        {
            peak = Math.Max(peak, ResidentBytes(pid));
            try
            {
                await Task.Delay(20, ct);
            }
            catch (OperationCanceledException)
            {
            }
        }
        return Math.Max(peak, ResidentBytes(pid));
    }

    private static object Settings(int port, int s3Port, string dataDir) => new Dictionary<string, object>
    {
        ["Logging"] = new Dictionary<string, object>
        {
            ["LogLevel"] = new Dictionary<string, string>
            {
                ["Default"] = "Information",
                ["Microsoft.AspNetCore"] = "Warning",
                ["Microsoft.Hosting.Lifetime"] = "Warning",
            },
        },
        ["Welkin"] = new Dictionary<string, object> { ["Port"] = port, ["Bind"] = "127.0.0.1", ["DataDir"] = dataDir, ["Fabric"] = "simulated" },
        ["Database"] = new Dictionary<string, string> { ["Provider"] = "sqlite" },
        ["S3"] = new Dictionary<string, string> { ["Listen"] = "127.0.0.1:" + s3Port.ToString(CultureInfo.InvariantCulture) },
    };
}
