using Welkin.Core.Audit;

namespace Welkin.Core.Tests.Audit;

public sealed class AuditKeyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-audit-key-").FullName;

    private string KeyFile => Path.Combine(_dir, "audit-signing.key");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void LoadOrCreate_CreatesAnOwnerOnlyKeyFileAndItsPublicHalf_ThenLoadsTheSameKey()
    {
        using var created = AuditKey.LoadOrCreate(KeyFile);
        using var loaded = AuditKey.LoadOrCreate(KeyFile);

        created.Created.ShouldBeTrue();
        loaded.Created.ShouldBeFalse();
        loaded.KeyId.ShouldBe(created.KeyId);
        loaded.Seal("abc").ShouldBe(created.Seal("abc"));
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(KeyFile).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            AuditKey.IsExposed(KeyFile).ShouldBeFalse();
        }
        File.ReadAllText(AuditKey.PublicKeyFile(KeyFile)).ShouldBe(created.Public.Pem);
        File.ReadAllText(KeyFile).ShouldContain("PRIVATE KEY");
    }

    [Fact]
    public void Checkpoint_VerifiesWithThePublicKeyAlone_AndNotOnceAnyFieldChanged()
    {
        using var key = AuditKey.LoadOrCreate(KeyFile);
        using var publicKey = AuditPublicKey.FromPem(File.ReadAllText(AuditKey.PublicKeyFile(KeyFile)));
        var checkpoint = AuditCheckpoint.Sign(key, 97, new string('a', 64), DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_123));

        checkpoint.IsSignedBy(publicKey).ShouldBeTrue();
        foreach (var forged in new[]
        {
            checkpoint with { Seq = 96 }, checkpoint with { Hash = new string('b', 64) },
            checkpoint with { At = checkpoint.At.AddSeconds(1) }, checkpoint with { Signature = "bm90IGEgc2lnbmF0dXJl" },
        })
        {
            forged.IsSignedBy(publicKey).ShouldBeFalse();
        }
    }

    [Fact]
    public void Checkpoint_SignedByAnotherKey_DoesNotVerify()
    {
        using var key = AuditKey.LoadOrCreate(KeyFile);
        using var other = AuditKey.LoadOrCreate(Path.Combine(_dir, "other.key"));

        var checkpoint = AuditCheckpoint.Sign(other, 1, new string('a', 64), DateTimeOffset.UnixEpoch);

        checkpoint.IsSignedBy(key.Public).ShouldBeFalse();
        (checkpoint with { KeyId = key.KeyId }).IsSignedBy(key.Public).ShouldBeFalse();
        other.Seal("abc").ShouldNotBe(key.Seal("abc"));
    }

    [Fact]
    public void CheckpointFile_ReadsBackWhatItAppended_AndReportsABrokenLine()
    {
        using var key = AuditKey.LoadOrCreate(KeyFile);
        var file = new AuditCheckpointFile(Path.Combine(_dir, "checkpoints.jsonl"));
        var first = AuditCheckpoint.Sign(key, 3, new string('a', 64), DateTimeOffset.FromUnixTimeMilliseconds(1_000));
        file.Append(first);
        File.AppendAllText(file.Path, "{\"seq\":4,\"hash\":");
        var second = AuditCheckpoint.Sign(key, 5, new string('c', 64), DateTimeOffset.FromUnixTimeMilliseconds(2_000));
        file.Append(second);

        var lines = file.ReadAll();

        lines.Select(l => l.Number).ShouldBe([1L, 2L, 3L]);
        lines[0].Checkpoint.ShouldBe(first);
        lines[1].Checkpoint.ShouldBeNull();
        lines[2].Checkpoint.ShouldBe(second);
        lines[2].Checkpoint!.IsSignedBy(key.Public).ShouldBeTrue();
    }
}
