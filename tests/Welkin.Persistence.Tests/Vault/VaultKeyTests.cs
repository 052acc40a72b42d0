using System.Text;
using Microsoft.Data.Sqlite;
using Welkin.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Vault;
using Welkin.Testing;

namespace Welkin.Persistence.Tests.Vault;

/// <summary>The key hierarchy: rotation, damaged blobs, and destruction that a restored database cannot undo.</summary>
public sealed class VaultKeyTests(PostgresCluster pg) : IClassFixture<PostgresCluster>
{
    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Rotation_RewrapsEveryDataKey_WithoutRewritingData_AndRecordsStayReadable(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();
        var records = new List<VaultRecordView>();
        for (var i = 0; i < 3; i++)
        {
            records.Add(await w.PutAsync(vault.Id, $"doc/{i}", new string((char)('a' + i), 3000)));
        }
        var blob = File.ReadAllBytes(RecordService.BlobPath(w.Options, vault.Id, records[0].Id));
        var keyFile = File.ReadAllText(Path.Combine(w.Options.KeyDirectory, vault.Id, records[0].Id + ".key"));

        var rotated = await w.Vaults.RotateKeyAsync(w.Admin, VaultWorld.Ct);

        rotated.Value.ShouldBe(new VaultKeyRotationView(w.Admin.AccountId!, 2, 3));
        (await w.Keys.TenantKeyVersionsAsync(w.Admin.AccountId!, VaultWorld.Ct)).ShouldBe([2L]);
        File.ReadAllBytes(RecordService.BlobPath(w.Options, vault.Id, records[0].Id)).ShouldBe(blob);
        File.ReadAllText(Path.Combine(w.Options.KeyDirectory, vault.Id, records[0].Id + ".key")).ShouldNotBe(keyFile);
        for (var i = 0; i < 3; i++)
        {
            (await w.ReadAsync(vault.Id, records[i].Id)).ShouldBe(new string((char)('a' + i), 3000));
        }
        var later = await w.PutAsync(vault.Id, "doc/late", "after the rotation");
        (await w.ReadAsync(vault.Id, later.Id)).ShouldBe("after the rotation");
        (await w.AuditActionsAsync(w.Admin.AccountId!)).ShouldContain("vault.key.rotate");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Open_ADamagedBlob_IsAnError_NeverWrongData(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();
        var small = await w.PutAsync(vault.Id, "small", "short content");
        var large = await w.PutAsync(vault.Id, "large", new string('x', 5000));
        Flip(RecordService.BlobPath(w.Options, vault.Id, small.Id), VaultCipher.HeaderBytes + 3);
        Flip(RecordService.BlobPath(w.Options, vault.Id, large.Id), VaultCipher.HeaderBytes + 2 * (w.Options.ChunkBytes + VaultCipher.TagBytes) + 3);

        var opened = await w.Records.OpenAsync(w.Admin, vault.Id, small.Id, VaultWorld.Ct);
        opened.Error!.Code.ShouldBe("record-corrupt");
        opened.Error.Detail.ShouldNotContain(w.Directory);

        var partly = await w.Records.OpenAsync(w.Admin, vault.Id, large.Id, VaultWorld.Ct);
        await using var content = partly.Value.Content;
        var read = new MemoryStream();
        await Should.ThrowAsync<VaultDataException>(() => content.CopyToAsync(read, VaultWorld.Ct));
        read.ToArray().ShouldAllBe(b => b == (byte)'x');
        read.Length.ShouldBe(2 * w.Options.ChunkBytes);
    }

    [Fact]
    public async Task Shredded_CannotBeDecrypted_WithTheDatabaseRestoredFromBefore_AndTheMasterKey()
    {
        await using var w = await VaultWorld.CreateAsync(TestStore.Sqlite, pg);
        var backup = Path.Combine(w.Directory, "backup.db");

        await ShreddedStaysUnreadableAsync(w, async () =>
        {
            await BackupAsync(w, backup);
            return (backup, () => Task.FromResult<IDatabase>(new SqliteDatabase(backup)));
        });
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Shredded_CannotBeDecrypted_WithAPostgresDumpFromBefore_RestoredIntoAFreshDatabase()
    {
        await using var w = await VaultWorld.CreateAsync(TestStore.Postgres, pg);
        PostgresDatabase? restored = null;
        try
        {
            await ShreddedStaysUnreadableAsync(w, async () =>
            {
                var dump = await pg.DumpAsync(w.Store.ConnectionString!, VaultWorld.Ct);
                return (dump, async () => restored = new PostgresDatabase(await pg.RestoreAsync(dump, VaultWorld.Ct)));
            });
        }
        finally
        {
            if (restored is not null)
            {
                await restored.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Put_BeyondTheMaximum_WithAWrongDigest_OrAnUnknownClass_KeepsNothing(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var vault = await w.VaultAsync();

        var tooLarge = await w.Records.PutAsync(w.Admin, vault.Id, "big", null, null, new MemoryStream(new byte[w.Options.MaxRecordBytes + 1]), VaultWorld.Ct);
        tooLarge.Error!.Code.ShouldBe("record-too-large");
        var wrong = await w.Records.PutAsync(w.Admin, vault.Id, "digest", null, new string('0', 64), new MemoryStream("abc"u8.ToArray()), VaultWorld.Ct);
        wrong.Error!.Code.ShouldBe("digest-mismatch");
        var noClass = await w.Records.PutAsync(w.Admin, vault.Id, "x", "missing", null, new MemoryStream("abc"u8.ToArray()), VaultWorld.Ct);
        noClass.Error!.Code.ShouldBe("not-found");

        Directory.GetFiles(w.Options.Directory, "*", SearchOption.AllDirectories).ShouldBeEmpty();
        (await w.Vaults.GetAsync(w.Admin, vault.Id, VaultWorld.Ct)).Value.StoredBytes.ShouldBe(0);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Vault_DrawsItsIncrementsFromTheContractLine_AndReturnsThemWhenDeleted(string provider)
    {
        await using var w = await VaultWorld.CreateAsync(provider, pg);
        var first = await w.VaultAsync(capacityGiB: 3);
        (await w.Vaults.CreateAsync(w.Admin, new CreateVaultRequest(w.ContractId, 2), null, VaultWorld.Ct)).Error!.Code.ShouldBe("contract-exhausted");
        var record = await w.PutAsync(first.Id, "k", "v");
        (await w.Vaults.DeleteAsync(w.Admin, first.Id, null, VaultWorld.Ct)).Error!.Code.ShouldBe("invalid-state");

        (await w.Destruction.DeleteAsync(w.Admin, first.Id, record.Id, false, null, VaultWorld.Ct)).Error.ShouldBeNull();
        (await w.Vaults.DeleteAsync(w.Admin, first.Id, null, VaultWorld.Ct)).Value.State.ShouldBe(VaultState.Deleted);
        (await w.Vaults.CreateAsync(w.Admin, new CreateVaultRequest(w.ContractId, 4), null, VaultWorld.Ct)).Error.ShouldBeNull();
    }

    [Theory]
    [InlineData("../etc/passwd")]
    [InlineData("a/../../b")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("trailing/")]
    [InlineData("back\\slash")]
    [InlineData("nul\0byte")]
    [InlineData("")]
    public void CheckKey_RefusesPathTricks(string key) => RecordService.CheckKey(key)!.Code.ShouldBe("validation-failed");

    [Fact]
    public void CheckKey_TakesOrdinaryKeys()
    {
        RecordService.CheckKey("ledgers/2025/q4 report.pdf").ShouldBeNull();
        RecordService.CheckKey(new string('k', 1024)).ShouldBeNull();
        RecordService.CheckKey(new string('k', 1025)).ShouldNotBeNull();
    }

    [Fact]
    public async Task FirstSweep_RemovesTheFilesOfAWriteThatNeverCommitted_OnceOldEnough()
    {
        await using var w = await VaultWorld.CreateAsync(TestStore.Sqlite, pg);
        var vault = await w.VaultAsync();
        var kept = await w.PutAsync(vault.Id, "kept", "committed");
        // What a crash between the files and the commit leaves: a key file and a blob no row names.
        var orphan = Welkin.Core.Common.Ids.New(Welkin.Core.Common.Ids.VaultRecord, w.Clock);
        await w.Keys.WriteDataKeyAsync(w.Admin.AccountId!, vault.Id, orphan, VaultKeys.NewDataKey(), VaultWorld.Ct);
        File.WriteAllBytes(RecordService.BlobPath(w.Options, vault.Id, orphan), [1, 2, 3]);
        w.Clock.Advance(TimeSpan.FromHours(2));

        await w.Destruction.SweepAsync(VaultWorld.Ct);

        File.Exists(RecordService.BlobPath(w.Options, vault.Id, orphan)).ShouldBeFalse();
        File.Exists(Path.Combine(w.Options.KeyDirectory, vault.Id, orphan + ".key")).ShouldBeFalse();
        (await w.ReadAsync(vault.Id, kept.Id)).ShouldBe("committed");
    }

    /// <summary>
    /// A record destroyed after a copy of the database was taken (<paramref name="backup"/> takes it and
    /// answers its file and how to restore it): with everything as it was before the shred but the key
    /// store (the database restored, the blob put back, the same master key) the record reads as stored
    /// yet cannot be decrypted, and the copy holds neither its content nor its data key in any form.
    /// </summary>
    private static async Task ShreddedStaysUnreadableAsync(VaultWorld w, Func<Task<(string File, Func<Task<IDatabase>> Restore)>> backup)
    {
        var vault = await w.VaultAsync();
        var record = await w.PutAsync(vault.Id, "secret.txt", "destroy me");
        var dataKey = (await w.Keys.ReadDataKeyAsync(w.Admin.AccountId!, vault.Id, record.Id, VaultWorld.Ct)).Value;
        var (file, restore) = await backup();
        var blobPath = RecordService.BlobPath(w.Options, vault.Id, record.Id);
        var blobCopy = File.ReadAllBytes(blobPath);

        (await w.Destruction.DeleteAsync(w.Admin, vault.Id, record.Id, false, null, VaultWorld.Ct)).Error.ShouldBeNull();
        File.Exists(blobPath).ShouldBeFalse();
        Directory.GetFiles(Path.Combine(w.Options.KeyDirectory, vault.Id)).ShouldBeEmpty();

        File.WriteAllBytes(blobPath, blobCopy);
        w.Build(await restore());
        (await w.Records.GetAsync(w.Admin, vault.Id, record.Id, VaultWorld.Ct)).Value.State.ShouldBe(VaultRecordState.Stored);

        var opened = await w.Records.OpenAsync(w.Admin, vault.Id, record.Id, VaultWorld.Ct);
        opened.Error!.Code.ShouldBe("record-key-destroyed");
        opened.Error.Detail.ShouldNotContain(w.Directory);
        var copy = File.ReadAllBytes(file);
        copy.AsSpan().IndexOf("destroy me"u8).ShouldBe(-1, "the database never holds a record's content");
        var hex = Convert.ToHexString(dataKey);
        foreach (var form in new[] { dataKey, Encoding.ASCII.GetBytes(Convert.ToBase64String(dataKey)), Encoding.ASCII.GetBytes(hex), Encoding.ASCII.GetBytes(hex.ToLowerInvariant()) })
        {
            copy.AsSpan().IndexOf(form).ShouldBe(-1, "the database never holds a data key, wrapped or not");
        }
    }

    private static void Flip(string path, int at)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[at] ^= 0x40;
        File.WriteAllBytes(path, bytes);
    }

    private static async Task BackupAsync(VaultWorld w, string path)
    {
        await using var source = (SqliteConnection)await w.Store.Db.OpenAsync(VaultWorld.Ct);
        await using var target = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        target.Open();
        source.BackupDatabase(target);
    }
}
