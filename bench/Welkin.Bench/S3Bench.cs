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
/// and compared with its size before them: streamed, it stays flat. One round runs unmeasured first
/// (the JIT), and the CPU seconds of server and client per 256 MiB object say where the time goes.
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
            var (s3, key) = await ClientAsync(server, s3Port);
            using var _ = s3;
            using var raw = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{s3Port.ToString(CultureInfo.InvariantCulture)}"), Timeout = TimeSpan.FromMinutes(10) };
            var source = Path.Combine(root, "source-256");
            await WriteRandomAsync(source, 256L << 20);
            var smallBodies = Enumerable.Range(0, small).Select(_ => RandomNumberGenerator.GetBytes(1 << 20)).ToList();

            // One unmeasured round: a fresh server (and SDK) spends its first transfers in the JIT.
            await S3SmallPutAsync(s3, smallBodies);
            await S3SmallGetAsync(s3, small);
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = "large.bin", FilePath = source });
            using (var warm = await s3.GetObjectAsync(Bucket, "large.bin"))
            {
                await DrainAsync(warm.ResponseStream);
            }

            var s3Small = new Times();
            var plainSmall = new Times();
            var s3Large = new Times();
            var unsignedLarge = new Times();
            var plainLarge = new Times();
            var coldLarge = new Times();
            var plainCold = 0.0;
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
                var (serverCpu, clientCpu) = (server.CpuTime, Process.GetCurrentProcess().TotalProcessorTime);
                s3Large.Put += await TimeAsync(() => s3.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = "large.bin", FilePath = source }));
                s3Large.PutServerCpu += (server.CpuTime - serverCpu).TotalSeconds;
                s3Large.PutClientCpu += (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalSeconds;
                (serverCpu, clientCpu) = (server.CpuTime, Process.GetCurrentProcess().TotalProcessorTime);
                s3Large.Get += await TimeAsync(async () =>
                {
                    using var got = await s3.GetObjectAsync(Bucket, "large.bin");
                    await DrainAsync(got.ResponseStream);
                });
                s3Large.GetServerCpu += (server.CpuTime - serverCpu).TotalSeconds;
                s3Large.GetClientCpu += (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalSeconds;
                if (DropPageCache())
                {
                    coldLarge.Get += await TimeAsync(async () =>
                    {
                        using var got = await s3.GetObjectAsync(Bucket, "large.bin");
                        await DrainAsync(got.ResponseStream);
                    });
                    DropPageCache();
                    plainCold += await TimeAsync(() => DrainAsync(File.OpenRead(Path.Combine(root, "plain-256"))));
                }
                (serverCpu, clientCpu) = (server.CpuTime, Process.GetCurrentProcess().TotalProcessorTime);
                unsignedLarge.Put += await TimeAsync(() => UnsignedPutAsync(raw, key, source));
                unsignedLarge.PutServerCpu += (server.CpuTime - serverCpu).TotalSeconds;
                unsignedLarge.PutClientCpu += (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalSeconds;
                await sampling.CancelAsync();
                rssPeak = Math.Max(rssPeak, await sampler);
            }
            Report($"{small} x 1 MiB", small * (double)rounds, s3Small, plainSmall);
            Report("  256 MiB", 256.0 * rounds, s3Large, plainLarge);
            Console.WriteLine(coldLarge.Get > 0
                ? string.Create(CultureInfo.InvariantCulture,
                    $"  256 MiB GET from the disk (page cache dropped before each read): S3 {256.0 * rounds / coldLarge.Get,7:0.0} MiB/s vs plain file {256.0 * rounds / plainCold,7:0.0} MiB/s (ratio {plainCold / coldLarge.Get:0.00})")
                : "  256 MiB GET from the disk: not measured (dropping the page cache needs root)");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  256 MiB CPU seconds per object: PUT server {s3Large.PutServerCpu / rounds:0.00}, client {s3Large.PutClientCpu / rounds:0.00} | GET server {s3Large.GetServerCpu / rounds:0.00}, client {s3Large.GetClientCpu / rounds:0.00}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  256 MiB PUT, raw HttpClient with UNSIGNED-PAYLOAD (no chunk signatures, no checksum): {256.0 * rounds / unsignedLarge.Put:0.0} MiB/s (ratio {plainLarge.Put / unsignedLarge.Put:0.00}), CPU seconds per object: server {unsignedLarge.PutServerCpu / rounds:0.00}, client {unsignedLarge.PutClientCpu / rounds:0.00}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"server resident set: {rssBefore >> 20} MiB before the 256 MiB transfers, peak {rssPeak >> 20} MiB during them"));
            await server.StopAsync();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Writes back and drops the kernel's page cache (root only), so that the next read comes from the disk.</summary>
    private static bool DropPageCache()
    {
        try
        {
            using (var sync = Process.Start("sync"))
            {
                sync?.WaitForExit();
            }
            File.WriteAllText("/proc/sys/vm/drop_caches", "1");
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private sealed class Times
    {
        public double Put;
        public double Get;
        public double PutServerCpu;
        public double PutClientCpu;
        public double GetServerCpu;
        public double GetClientCpu;
    }

    private static void Report(string what, double mib, Times s3, Times plain) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: PUT S3 {mib / s3.Put,7:0.0} MiB/s vs plain file {mib / plain.Put,7:0.0} MiB/s (ratio {plain.Put / s3.Put:0.00}) | GET S3 {mib / s3.Get,7:0.0} MiB/s vs plain file {mib / plain.Get,7:0.0} MiB/s (ratio {plain.Get / s3.Get:0.00})"));

    /// <summary>A storage offering, an account with a contract for it, a vault named <see cref="Bucket"/>, and an access key of the account's admin.</summary>
    private static async Task<(AmazonS3Client S3, IssuedAccessKey Key)> ClientAsync(ServerProcess server, int s3Port)
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
        return (new AmazonS3Client(new BasicAWSCredentials(key.Id, key.Secret), new AmazonS3Config
        {
            ServiceURL = $"http://127.0.0.1:{s3Port.ToString(CultureInfo.InvariantCulture)}",
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            Timeout = TimeSpan.FromMinutes(10),
        }), key);
    }

    /// <summary>A PUT signed in its headers only (x-amz-content-sha256: UNSIGNED-PAYLOAD), the body streamed from the file.</summary>
    private static async Task UnsignedPutAsync(HttpClient raw, IssuedAccessKey key, string source)
    {
        var amzDate = TimeProvider.System.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>
        {
            ["host"] = raw.BaseAddress!.Authority, ["x-amz-content-sha256"] = Welkin.Server.S3.SigV4.UnsignedPayload, ["x-amz-date"] = amzDate,
        };
        var names = headers.Keys.Order(StringComparer.Ordinal).ToList();
        var path = $"/{Bucket}/unsigned.bin";
        var canonical = Welkin.Server.S3.SigV4.CanonicalRequest(
            new Welkin.Server.S3.SigV4Request("PUT", path, "", n => headers.GetValueOrDefault(n), Welkin.Server.S3.SigV4.UnsignedPayload), names, presigned: false)!;
        var scope = $"{amzDate[..8]}/us-east-1/s3/aws4_request";
        var signature = Welkin.Server.S3.SigV4.Signature(Welkin.Server.S3.SigV4.SigningKey(key.Secret, amzDate[..8], "us-east-1", "s3"),
            Welkin.Server.S3.SigV4.StringToSign(amzDate, scope, canonical));
        await using var file = File.OpenRead(source);
        using var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = new StreamContent(file, 64 * 1024) };
        request.Content.Headers.ContentLength = file.Length;
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", Welkin.Server.S3.SigV4.UnsignedPayload);
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"{Welkin.Server.S3.SigV4.Algorithm} Credential={key.Id}/{scope}, SignedHeaders={string.Join(';', names)}, Signature={signature}");
        using var response = await raw.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"unsigned PUT: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
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
