using System.Text.Json;
using Welkin.Core.Catalog;
using Welkin.Core.Ovf;

namespace Welkin.Core.Tests.Ovf;

/// <summary>
/// OVF descriptors written by real producers (Data/corpus; Data/public/README.md says where each
/// comes from). Data/corpus/expected.json says, for each, what its descriptor says (virtual systems,
/// vCPUs, memory, disks, networks) and whether Welkin accepts it or refuses it with which code.
/// </summary>
public sealed class CorpusTests(ITestOutputHelper output)
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Ovf", "Data", "corpus");

    private static readonly Lazy<Dictionary<string, Expected>> Table = new(() =>
        JsonSerializer.Deserialize<Dictionary<string, Expected>>(File.ReadAllText(Path.Combine(Folder, "expected.json")), JsonOptions)!);

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNameCaseInsensitive = true };

    public static TheoryData<string> Files() => new(Directory.GetFiles(Folder, "*.ovf").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Files))]
    public void CorpusFile_IsAcceptedOrRefusedAsItsDescriptorSays(string file)
    {
        Table.Value.ShouldContainKey(file, $"{file} has no row in expected.json");
        var expected = Table.Value[file];

        var mismatch = Mismatch(file, expected);

        if (expected.KnownFailure is { } why)
        {
            mismatch.ShouldNotBeNull($"{file} is handled as expected now: remove its knownFailure ('{why}') from expected.json");
        }
        else
        {
            mismatch.ShouldBeNull($"{file}: {mismatch}");
        }
    }

    [Fact]
    public void Corpus_AcceptanceRate()
    {
        var table = Table.Value;
        Directory.GetFiles(Folder, "*.ovf").Select(Path.GetFileName).Order(StringComparer.Ordinal).ShouldBe(table.Keys.Order(StringComparer.Ordinal));
        var valid = table.Where(kv => kv.Value.Expect == "accepted").ToList();
        var accepted = valid.Count(kv => Mismatch(kv.Key, kv.Value) is null);
        var refused = table.Where(kv => kv.Value.Expect == "refused").ToList();
        var refusedRight = refused.Count(kv => Mismatch(kv.Key, kv.Value) is null);
        output.WriteLine($"Real OVF descriptors: {table.Count} from {table.Values.Select(v => string.Join(' ', v.Producer.Split(' ').Take(2))).Distinct().Count()} producers.");
        output.WriteLine($"Accepted and mapped as their descriptors say: {accepted} of {valid.Count} ({100.0 * accepted / Math.Max(1, valid.Count):F1} %).");
        output.WriteLine($"Refused with the expected code: {refusedRight} of {refused.Count}.");
        foreach (var family in valid.GroupBy(kv => kv.Value.Producer.Split(' ')[0]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"  {family.Key}: {family.Count(kv => Mismatch(kv.Key, kv.Value) is null)} of {family.Count()}");
        }
        foreach (var (file, e) in table.Where(kv => kv.Value.KnownFailure is not null))
        {
            output.WriteLine($"  known failure: {file}: {e.KnownFailure}");
        }
    }

    /// <summary>Null when the file is handled as expected.json says; else what differs.</summary>
    private static string? Mismatch(string file, Expected expected)
    {
        string? code = null;
        Welkin.Contracts.TemplateSpec? spec = null;
        OvfEnvelope? envelope = null;
        List<OvfSystemDisks>? layouts = null;
        try
        {
            var read = OvfReader.Read(File.ReadAllBytes(Path.Combine(Folder, file)));
            if (!read.IsSuccess)
            {
                code = read.Error!.Code;
                return Compare(code, read.Error.Detail);
            }
            envelope = read.Value;
            var mapped = OvfTemplateMapper.ToTemplateSpec(envelope);
            if (!mapped.IsSuccess)
            {
                return Compare(mapped.Error!.Code, mapped.Error.Detail);
            }
            var files = OvfPackages.PackageDisks(envelope);
            if (!files.IsSuccess)
            {
                return Compare(files.Error!.Code, files.Error.Detail);
            }
            spec = mapped.Value;
            layouts = files.Value;
        }
        catch (Exception e)
        {
            return $"threw {e.GetType().Name}: {e.Message}";
        }
        if (expected.Expect != "accepted")
        {
            return $"accepted, but expected refused with {expected.Code}";
        }
        if (spec.VirtualSystems.Count != expected.Systems!.Count)
        {
            return $"{spec.VirtualSystems.Count} virtual systems, expected {expected.Systems.Count}";
        }
        if (envelope.Networks.Count != expected.Networks)
        {
            return $"{envelope.Networks.Count} networks, expected {expected.Networks}";
        }
        for (var i = 0; i < expected.Systems.Count; i++)
        {
            var (vs, want, disks) = (spec.VirtualSystems[i], expected.Systems[i], layouts![i]);
            // diskBytes: the disks of the default configuration in order, the system disk first.
            var diskGiB = want.DiskBytes.Select(GiB).ToList();
            if (vs.Hardware.Vcpus.Default != want.Vcpus || vs.Hardware.MemoryMiB.Default != want.MemoryMiB || vs.Hardware.DiskGiB.Default != diskGiB.FirstOrDefault(1))
            {
                return $"system '{want.Id}': {vs.Hardware.Vcpus.Default} vCPUs, {vs.Hardware.MemoryMiB.Default} MiB, {vs.Hardware.DiskGiB.Default} GiB; " +
                       $"expected {want.Vcpus}, {want.MemoryMiB}, {diskGiB.FirstOrDefault(1)}";
            }
            var volumes = vs.DataVolumes ?? [];
            var present = volumes.Where(d => d.SizeGiB.Default != 0).Select(d => d.SizeGiB.Default).ToList();
            if (!present.SequenceEqual(diskGiB.Skip(1)))
            {
                return $"system '{want.Id}': data volumes of {string.Join(", ", present)} GiB by default; expected {string.Join(", ", diskGiB.Skip(1))}";
            }
            var withContent = (disks.System?.File is null ? 0 : 1) + disks.Data.Count(d => d.File is not null && d.SizeGiB.Default != 0);
            if (withContent != want.DisksWithContent)
            {
                return $"system '{want.Id}': {withContent} disks with content by default; expected {want.DisksWithContent}";
            }
            if (want.DataVolumes is { } wantVolumes)
            {
                var got = volumes.Select((d, j) => $"{d.Name} [{string.Join(", ", d.SizeGiB.Allowed)}] {d.SizeGiB.Default}{(disks.Data[j].File is null ? "" : " content")}").ToList();
                if (!got.SequenceEqual(wantVolumes))
                {
                    return $"system '{want.Id}': data volumes {string.Join("; ", got)}; expected {string.Join("; ", wantVolumes)}";
                }
            }
        }
        return null;

        static long GiB(long bytes) => Math.Max(1, (bytes + (1L << 30) - 1) >> 30);

        string? Compare(string actual, string detail) =>
            expected.Expect == "refused" && actual == expected.Code ? null : $"refused with {actual}: {detail}";
    }

    private sealed record Expected(
        string Producer,
        string Source,
        string Expect,
        string? Code,
        string? Why,
        string? KnownFailure,
        List<ExpectedSystem>? Systems,
        int Networks,
        int Configurations);

    /// <param name="DiskBytes">The disks of the default configuration, in order: the system disk first, then the data volumes.</param>
    /// <param name="DataVolumes">When given, every data volume as "name [allowed GiB] default", and " content" when it holds a file.</param>
    private sealed record ExpectedSystem(string Id, int Vcpus, long MemoryMiB, List<long> DiskBytes, int DisksWithContent, int Nics, List<string>? DataVolumes = null);
}
