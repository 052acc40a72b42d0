using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Security;
using Welkin.Persistence;

// welkin-bench write-path [seconds-per-case] [directory]
//   how many audited state changes per second Welkin commits on SQLite (WAL, synchronous=FULL),
//   against the raw durable-commit rate of a SQLite file in the same directory; with 1, 8 and
//   64 concurrent writers, and how many changes group commit put in each transaction.
// welkin-bench provision [seconds=20] [clients=16,32,64] [hosts=2000] [directory]
//   provisioning requests per second through the HTTP API of a real server process on the
//   simulated fabric (zero driver timing), with the raw commit rate of the same directory.
// welkin-bench placement [hosts] [decisions]
//   placement decisions per second and their latency percentiles.
// welkin-bench burst [rounds=20]
//   a burst provision (request -> running in a peer cloud's pool) against a local provision in the
//   same run, and one round trip to the peer over mutual TLS with the agreement's credential.
if (args.Length > 0 && args[0] == "burst")
{
    await Welkin.Bench.BurstBench.RunAsync(args[1..]);
    return;
}
// welkin-bench ingest [machines=10000] [ticks=30] [interval-seconds=10] [directory]
//   measurement samples per second into the Service Monitor's store, downsampling on.
if (args.Length > 0 && args[0] == "ingest")
{
    await Welkin.Bench.IngestBench.RunAsync(args[1..]);
    return;
}
// welkin-bench rating [records=10000000] [directory]
//   rating a billing period's usage records into invoices, against a plain GROUP BY / SUM
//   aggregate over the same rows on the same SQLite file in the same run.
if (args.Length > 0 && args[0] == "rating")
{
    await Welkin.Bench.RatingBench.RunAsync(args[1..]);
    return;
}
// welkin-bench vault-cipher [rounds=3] [directory]
//   a retention vault record's bytes encrypted in chunks to a file and read back authenticated,
//   against a plain file write and read of the same bytes on the same disk, for 1 MiB and 256 MiB.
if (args.Length > 0 && args[0] == "vault-cipher")
{
    await Welkin.Bench.VaultCipherBench.RunAsync(args[1..]);
    return;
}
// welkin-bench s3 [rounds=3] [small-objects=64] [directory]
//   PUT and GET through the S3 face of a server process with AWSSDK.S3 (1 MiB objects one after another, and
//   256 MiB objects) against plain file writes and reads of the same bytes in the same directory, and the
//   server's resident set during the 256 MiB transfers against before them.
if (args.Length > 0 && args[0] == "s3")
{
    await Welkin.Bench.S3Bench.RunAsync(args[1..]);
    return;
}
// welkin-bench vault-sweep [records=100000] [size=1024] [directory]
//   the retention vault's expiry sweep destroying N expired records (certificates signed, every step
//   audited) against deleting N files of the blob's size, one UPDATE of N rows and the raw commit rate.
if (args.Length > 0 && args[0] == "vault-sweep")
{
    await Welkin.Bench.VaultSweepBench.RunAsync(args[1..]);
    return;
}
// welkin-bench qemu [rounds=5] [directory]
//   real virtual machines (the test guest): provision to the guest's console marker against a bare
//   qemu launch of the same image, four provisions at once, and live migration through Welkin
//   against a bare QMP migration, all in the same run.
if (args.Length > 0 && args[0] == "qemu")
{
    await Welkin.Bench.QemuBench.RunAsync(args[1..]);
    return;
}
// welkin-bench live-migration [rounds=5] [directory]
//   a live move with the disk between two QEMU fabrics that share no storage, over TLS: through the
//   driver against two bare QEMU processes driven by QMP with the same sequence, in the same run.
if (args.Length > 0 && args[0] == "live-migration")
{
    await Welkin.Bench.LiveMigrationBench.RunAsync(args[1..]);
    return;
}
// welkin-bench live-move-clouds [rounds=3]
//   a live move of a running QEMU guest to a peer cloud's QEMU pool through the Change Manager and the peer's API
//   against the two clouds' QEMU drivers moving the same guest directly, in the same run.
if (args.Length > 0 && args[0] == "live-move-clouds")
{
    await Welkin.Bench.LiveMoveCloudsBench.RunAsync(args[1..]);
    return;
}
// welkin-bench cold-move [rounds=3]
//   a cold move of a running QEMU guest to a peer cloud through the Change Manager against the bare
//   sequence (stop, export, copy, import, boot) by hand, in the same run.
if (args.Length > 0 && args[0] == "cold-move")
{
    await Welkin.Bench.ColdMoveBench.RunAsync(args[1..]);
    return;
}
// welkin-bench repatriate [rounds=3]
//   a QEMU machine brought home cold from a peer cloud through the Change Manager against the bare
//   sequence (stop at the peer, package, download, import, boot) by hand, in the same run.
if (args.Length > 0 && args[0] == "repatriate")
{
    await Welkin.Bench.RepatriateBench.RunAsync(args[1..]);
    return;
}
// welkin-bench signup-flood [seconds=15] [rate=60] [directory]
//   one tenant's GET /api/v1/me latency (p50/p95/p99) with no flood and during a flood of sign-ups
//   with passwords at the production PBKDF2 count, with hashing unbounded and with the defaults.
if (args.Length > 0 && args[0] == "signup-flood")
{
    await Welkin.Bench.SignUpFloodBench.RunAsync(args[1..]);
    return;
}
// welkin-bench xmpp-presence [parties=50] [updates=200] [interval-ms=50]
//   presence propagation through a private Prosody to N subscribed parties: p50/p99 until the last
//   party and of every arrival.
// welkin-bench xmpp-iq [round-trips=2000]
//   IQ round trips between two parties through Prosody against a plain TCP echo of the same size.
// welkin-bench xmpp-memory [sessions=1,50,200]
//   managed and resident memory per logged-in XMPP session, and Prosody's per session.
// welkin-bench federation-presence [parties=50] [changes=40] [presence-interval-ms=1000]
//   a real welkin-server in a federation: time from a capacity change through its API (a host put
//   in maintenance and back) until N subscribed parties have the cloud's new signed presence.
// welkin-bench federated-selection [peers=10] [offerings=1000] [selections=200] [engine-time-limit-s=10]
//   federated selection through a private Prosody: one party asks N peers of M offerings each at
//   once, merges and ranks; p50/p99 end to end against a local query, a rebuild and an IQ ping.
if (args.Length > 0 && args[0] == "federated-selection")
{
    await Welkin.Bench.FederatedSelectionBench.RunAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "federation-presence")
{
    await Welkin.Bench.FederationPresenceBench.RunAsync(args[1..]);
    return;
}
// welkin-bench sparql [offerings=1000] [runs=10]
//   a selection query over one cloud's description in Redland in process against Jena ARQ on the same
//   data in the same run (Jena timed inside its JVM; the JVM's start and one arq.sparql call apart).
// welkin-bench description-republish [offerings=1000] [changes=10]
//   building, writing (Turtle, JSON-LD) and loading into Redland a description after a catalog change,
//   against serializing the same offerings and templates as the catalog API's JSON.
if (args.Length > 0 && args[0] == "sparql")
{
    await Welkin.Bench.RdfBench.QueryAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "description-republish")
{
    Welkin.Bench.RdfBench.Republish(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "xmpp-presence")
{
    await Welkin.Bench.XmppPresenceBench.RunAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "xmpp-iq")
{
    await Welkin.Bench.XmppRoundTripBench.RunAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "xmpp-memory")
{
    await Welkin.Bench.XmppMemoryBench.RunAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "placement")
{
    Welkin.Bench.PlacementBench.Run(
        args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10_000,
        args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 200_000);
    return;
}
// welkin-bench portal [machines=1000] [rounds=20] [directory]
//   the portal's page of N machines (server time, bytes, server CPU per render, and time until usable in
//   Debian's Chromium, p50) against the API call that feeds it, in the same run on one server process.
if (args.Length > 0 && args[0] == "portal")
{
    await Welkin.Bench.PortalBench.RunAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "provision")
{
    await Welkin.Bench.ProvisionBench.RunAsync(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "write-path")
{
    args = args[1..];
}
var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;
var root = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "welkin-bench-" + Guid.NewGuid().ToString("n"));
Directory.CreateDirectory(root);
var duration = TimeSpan.FromSeconds(seconds);
Console.WriteLine($"welkin-bench: {Environment.ProcessorCount} cores, {seconds} s per case, directory {root}");

try
{
    foreach (var writers in new[] { 1, 8, 64 })
    {
        var raw = await Welkin.Bench.RawSqlite.CommitsPerSecondAsync(Path.Combine(root, $"raw-{writers}.db"), writers, duration);
        var (audited, perCommit) = await AuditedChangesAsync(Path.Combine(root, $"welkin-{writers}"), writers, duration);
        Console.WriteLine($"writers={writers,2}: raw durable commits {raw,8:0}/s | Welkin set-limits (update + audit entry) {audited,8:0}/s, "
            + $"{perCommit,5:0.0} per commit | ratio {audited / raw:0.00}");
    }
}
finally
{
    SqliteConnection.ClearAllPools();
    Directory.Delete(root, recursive: true);
}

static async Task<(double PerSecond, double PerCommit)> AuditedChangesAsync(string dataDir, int writers, TimeSpan duration)
{
    Directory.CreateDirectory(dataDir);
    var db = new SqliteDatabase(Path.Combine(dataDir, "welkin.db"));
    var clock = TimeProvider.System;
    await new Migrator(db, db, clock, NullLogger<Migrator>.Instance).ApplyAsync(CancellationToken.None);
    var audit = new AuditLog(clock);
    var security = new SecurityManager(db, audit, new RefusalAudit(db, audit, clock, new RefusalAuditOptions()), clock, new LoginThrottle(clock, new LoginThrottleOptions()), new SecurityOptions());
    var accounts = new AccountService(db, audit, security, clock, new AccountOptions());
    var caller = Caller.System("bench");
    var ids = new List<string>();
    for (var i = 0; i < writers; i++)
    {
        var signUp = await accounts.SignUpAsync(caller, new SignUpRequest($"bench-{i}", "Bench", new SignUpAdmin("admin")), CancellationToken.None);
        ids.Add(signUp.Value.Account.Id);
    }
    var next = 0;
    var (commitsBefore, worksBefore) = db.CommitCounts;
    var rate = await RunAsync(writers, duration, async () =>
    {
        // Each writer changes its own account, so the figure measures the write path, not conflicts.
        var id = ids[Interlocked.Increment(ref next) % ids.Count];
        var result = await accounts.SetLimitsAsync(caller, id,
            new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = next % 100, ["storage-unit"] = 5 }), CancellationToken.None);
        if (!result.IsSuccess && result.Error!.Code != "concurrency-conflict")
        {
            throw new InvalidOperationException(result.Error.Detail);
        }
    });
    var (commits, works) = db.CommitCounts;
    return (rate, (works - worksBefore) / (double)Math.Max(1, commits - commitsBefore));
}

static async Task<double> RunAsync(int writers, TimeSpan duration, Func<Task> operation)
{
    long done = 0;
    var stopwatch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
    {
        while (stopwatch.Elapsed < duration)
        {
            await operation();
            Interlocked.Increment(ref done);
        }
    })));
    return done / stopwatch.Elapsed.TotalSeconds;
}
