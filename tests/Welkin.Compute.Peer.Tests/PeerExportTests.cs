using System.Security.Cryptography;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Testing;

namespace Welkin.Compute.Peer.Tests;

/// <summary>
/// The peer driver hands out a machine's package (<see cref="IPeerMachineExport"/>): it comes down into a spool file
/// with its digest checked, and an attempt after a restart keeps the bytes the job recorded and fetches only the rest.
/// </summary>
public sealed class PeerExportTests(PeerClouds clouds) : IClassFixture<PeerClouds>, IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-peer-export-")).FullName;
    private readonly List<PeerDriver> _drivers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        foreach (var driver in _drivers)
        {
            driver.Dispose();
        }
        TempDirectories.TryDelete(_dir);
    }

    private PeerDriver NewDriver()
    {
        var driver = clouds.NewDriver();
        _drivers.Add(driver);
        return driver;
    }

    private static MachineSpec Spec() =>
        new(Ids.New(Ids.Machine, TimeProvider.System), "acc_test", PeerClouds.Host, 1, 512, 10, null, "Welkin Test OS",
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);

    [Fact]
    public async Task Export_OfAStoppedMachine_DownloadsItsPackage_AndAnAttemptAfterARestart_KeepsTheRecordedBytes()
    {
        var driver = NewDriver();
        var spec = Spec();
        (await driver.CreateAsync(spec, null, Ct)).Error.ShouldBeNull();
        var spool = Path.Combine(_dir, "package.ova");
        var saved = new List<(string Sha256, long Bytes)>();
        var download = new PackageDownload(null, 0, (sha256, bytes, _) =>
        {
            saved.Add((sha256, bytes));
            return Task.CompletedTask;
        });

        var running = await driver.ExportAsync(spec.MachineId, spool, download, null, Ct);
        running.Error!.Code.ShouldBe("invalid-state");

        (await driver.StopAsync(spec.MachineId, false, Ct)).Error.ShouldBeNull();
        var package = await driver.ExportAsync(spec.MachineId, spool, download, null, Ct);

        package.Error.ShouldBeNull();
        var bytes = await File.ReadAllBytesAsync(spool, Ct);
        (package.Value.SizeBytes, package.Value.Sha256).ShouldBe((bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes))));
        saved[^1].ShouldBe((package.Value.Sha256, package.Value.SizeBytes));

        // Cloud1 restarted with half the package recorded as durable, and bytes after it that never were: those go, the rest comes.
        var half = bytes.Length / 2;
        var torn = bytes[..half].Concat(new byte[100]).ToArray();
        await File.WriteAllBytesAsync(spool, torn, Ct);
        var again = await NewDriver().ExportAsync(spec.MachineId, spool, download with { Sha256 = package.Value.Sha256, ReceivedBytes = half }, null, Ct);

        again.Error.ShouldBeNull();
        again.Value.ShouldBe(package.Value);
        (await File.ReadAllBytesAsync(spool, Ct)).ShouldBe(bytes);

        // The recorded bytes are taken as they are, not fetched again: wrong ones fail the digest, and the file goes.
        var wrong = bytes[..half];
        wrong[1] ^= 0xff;
        await File.WriteAllBytesAsync(spool, wrong, Ct);
        var refused = await NewDriver().ExportAsync(spec.MachineId, spool, download with { Sha256 = package.Value.Sha256, ReceivedBytes = half }, null, Ct);
        refused.Error!.Cause.ShouldNotBeNull().ShouldContain("SHA-256");
        File.Exists(spool).ShouldBeFalse();
        saved[^1].ShouldBe((package.Value.Sha256, 0L));

        // Bytes recorded for another package are not kept.
        await File.WriteAllBytesAsync(spool, wrong, Ct);
        var other = await NewDriver().ExportAsync(spec.MachineId, spool, download with { Sha256 = new string('0', 64), ReceivedBytes = half }, null, Ct);
        other.Error.ShouldBeNull();
        (await File.ReadAllBytesAsync(spool, Ct)).ShouldBe(bytes);

        await driver.DiscardAsync(spec.MachineId, Ct);
        (await driver.DestroyAsync(spec.MachineId, Ct)).Error.ShouldBeNull();
    }
}
