using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Server.Tests.Uploads;
using Welkin.Testing;

namespace Welkin.Server.Tests.Catalog;

/// <summary>
/// A machine's package (<c>/api/v1/machines/{id}/package</c>): its OVA written once with its SHA-256 and served in byte
/// ranges (RFC 9110 14), so that a cut download resumes and a changed package is never spliced onto an old one.
/// </summary>
public sealed class MachinePackageTests(AccountImagesApp app) : IClassFixture<AccountImagesApp>, IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(TempDirectories.NewPath("welkin-machine-packages-")).FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => TempDirectories.TryDelete(_dir);

    /// <summary>A consumer's running machine whose disk is a 2 MiB image of its own.</summary>
    private async Task<(InstancesApi.Tenant Tenant, string MachineId)> MachineAsync()
    {
        var tenant = await InstancesApi.TenantAsync(app, quantity: 1);
        var image = await UploadsApi.AccountImageAsync(tenant.Client, "source", UploadsApi.Disk(2 << 20));
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id, VirtualSystems: [new VirtualSystemChoice("web", ImageId: image.Id)]));
        return (tenant, instance.Machines.Single());
    }

    private static async Task<HttpResponseMessage> GetContentAsync(HttpClient client, string machineId, Action<HttpRequestMessage>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/machines/{machineId}/package/content");
        headers?.Invoke(request);
        return await client.SendAsync(request, Ct);
    }

    [Fact]
    public async Task Package_IsWrittenOnce_AndServedWhole_InRanges_AndWithItsDigest()
    {
        var (tenant, machineId) = await MachineAsync();

        var made = await (await tenant.Client.PostAsync($"/api/v1/machines/{machineId}/package", null, Ct)).ReadAsync<MachinePackageView>(HttpStatusCode.Created);
        var again = await (await tenant.Client.PostAsync($"/api/v1/machines/{machineId}/package", null, Ct)).ReadAsync<MachinePackageView>(HttpStatusCode.OK);
        again.ShouldBe(made);
        (await (await tenant.Client.GetAsync($"/api/v1/machines/{machineId}/package", Ct)).ReadAsync<MachinePackageView>()).ShouldBe(made);
        made.DiskSource.ShouldBe(Welkin.Core.Catalog.OvfDiskSource.Image);

        using var whole = await GetContentAsync(tenant.Client, machineId);
        whole.StatusCode.ShouldBe(HttpStatusCode.OK);
        var bytes = await whole.Content.ReadAsByteArrayAsync(Ct);
        bytes.LongLength.ShouldBe(made.SizeBytes);
        Convert.ToHexStringLower(SHA256.HashData(bytes)).ShouldBe(made.Sha256);
        whole.Headers.ETag!.Tag.ShouldBe($"\"{made.Sha256}\"");
        whole.Headers.GetValues(MachinePackageHeaders.ReprDigest).ShouldBe([$"sha-256=:{Convert.ToBase64String(SHA256.HashData(bytes))}:"]);
        whole.Headers.AcceptRanges.ShouldContain("bytes");

        using var part = await GetContentAsync(tenant.Client, machineId, r =>
        {
            r.Headers.Range = new RangeHeaderValue(1000, 2999);
            r.Headers.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue($"\"{made.Sha256}\""));
        });
        part.StatusCode.ShouldBe(HttpStatusCode.PartialContent);
        (part.Content.Headers.ContentRange!.From, part.Content.Headers.ContentRange.To, part.Content.Headers.ContentRange.Length).ShouldBe((1000L, 2999L, made.SizeBytes));
        (await part.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(bytes[1000..3000]);

        // If-Range naming another package: the whole current one, never a range of it to splice onto the other's bytes.
        using var changed = await GetContentAsync(tenant.Client, machineId, r =>
        {
            r.Headers.Range = new RangeHeaderValue(1000, null);
            r.Headers.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue($"\"{new string('0', 64)}\""));
        });
        changed.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await changed.Content.ReadAsByteArrayAsync(Ct)).LongLength.ShouldBe(made.SizeBytes);

        using var outside = await GetContentAsync(tenant.Client, machineId, r => r.Headers.Range = new RangeHeaderValue(made.SizeBytes, null));
        outside.StatusCode.ShouldBe(HttpStatusCode.RequestedRangeNotSatisfiable);
        outside.Content.Headers.ContentRange!.Length.ShouldBe(made.SizeBytes);
    }

    [Fact]
    public async Task ClientDownload_KeepsTheBytesItHas_FetchesTheRest_AndRefusesAnotherDigest()
    {
        var (tenant, machineId) = await MachineAsync();
        using var client = new WelkinClient(tenant.Client, tenant.Client.BaseAddress!);
        var package = await client.MachinePackages.CreateAsync(machineId, Ct);
        using var whole = await GetContentAsync(tenant.Client, machineId);
        var bytes = await whole.Content.ReadAsByteArrayAsync(Ct);
        var path = Path.Combine(_dir, "package.ova");
        var half = (int)(package.SizeBytes / 2);
        await File.WriteAllBytesAsync(path, bytes[..half], Ct);
        var first = -1L;
        var checkpoints = new List<long>();

        await client.MachinePackages.DownloadAsync(package, path, (n, _) =>
        {
            checkpoints.Add(n);
            return Task.CompletedTask;
        }, new Reports(n => first = first < 0 ? n : first), new DownloadSettings(CheckpointBytes: 64 * 1024), Ct);

        (await File.ReadAllBytesAsync(path, Ct)).ShouldBe(bytes);
        first.ShouldBeGreaterThan(half);
        checkpoints.ShouldNotBeEmpty();
        checkpoints[^1].ShouldBe(package.SizeBytes);

        // Bytes that are not the package's: the digest at the end refuses them, and the file goes.
        var wrong = bytes[..half].ToArray();
        wrong[10] ^= 0xff;
        await File.WriteAllBytesAsync(path, wrong, Ct);
        await Should.ThrowAsync<WelkinProtocolException>(() => client.MachinePackages.DownloadAsync(package, path, ct: Ct));
        File.Exists(path).ShouldBeFalse();
    }

    [Fact]
    public async Task ChangedMachine_GetsANewPackage_DeleteRemovesIt_AndViewersMayNotExport()
    {
        var (tenant, machineId) = await MachineAsync();
        var made = await (await tenant.Client.PostAsync($"/api/v1/machines/{machineId}/package", null, Ct)).ReadAsync<MachinePackageView>(HttpStatusCode.Created);
        (await tenant.Client.ActAsync(machineId, "stop")).State.ShouldBe(JobState.Succeeded);

        var after = await (await tenant.Client.PostAsync($"/api/v1/machines/{machineId}/package", null, Ct)).ReadAsync<MachinePackageView>(HttpStatusCode.Created);

        after.MachineVersion.ShouldBeGreaterThan(made.MachineVersion);
        var viewer = await AccountPrincipals.CreateAsync(app, tenant.Client, Role.Viewer);
        await (await viewer.GetAsync($"/api/v1/machines/{machineId}/package/content", Ct)).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        (await (await tenant.Client.DeleteAsync($"/api/v1/machines/{machineId}/package", Ct)).ReadAsync<MachinePackageView>()).ShouldBe(after);
        await (await tenant.Client.GetAsync($"/api/v1/machines/{machineId}/package", Ct)).ProblemAsync(HttpStatusCode.NotFound, "package-not-found");
        await (await tenant.Client.GetAsync($"/api/v1/machines/{machineId}/package/content", Ct)).ProblemAsync(HttpStatusCode.NotFound, "package-not-found");
        Directory.EnumerateFiles(Path.Combine(app.DataDir, "packages"), machineId + "*").ShouldBeEmpty();
    }

    /// <summary>Progress reported on the reporting thread, in order (<see cref="Progress{T}"/> posts to the thread pool).</summary>
    private sealed class Reports(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
