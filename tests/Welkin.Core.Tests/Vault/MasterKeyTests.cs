using System.Text;
using Welkin.Core.Vault;

namespace Welkin.Core.Tests.Vault;

public sealed class MasterKeyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("welkin-master-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void LoadOrCreate_CreatesAnOwnerOnlyKey_ThatWrapsAndUnwraps()
    {
        var file = Path.Combine(_dir, FileMasterKey.DefaultFileName);
        using var key = FileMasterKey.LoadOrCreate(file);

        key.Created.ShouldBeTrue();
        File.GetUnixFileMode(file).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var wrapped = key.Wrap(Encoding.UTF8.GetBytes("tenant key"), "ctx"u8.ToArray());
        using var again = FileMasterKey.LoadOrCreate(file);
        again.Created.ShouldBeFalse();
        again.KeyId.ShouldBe(key.KeyId);
        Encoding.UTF8.GetString(again.Unwrap(wrapped, "ctx"u8.ToArray())!).ShouldBe("tenant key");
        again.Unwrap(wrapped, "other"u8.ToArray()).ShouldBeNull();
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.GroupWrite)]
    public void LoadOrCreate_AKeyFileOthersMayUse_IsRefused(UnixFileMode extra)
    {
        var file = Path.Combine(_dir, FileMasterKey.DefaultFileName);
        FileMasterKey.LoadOrCreate(file).Dispose();
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);

        Should.Throw<MasterKeyException>(() => FileMasterKey.LoadOrCreate(file)).Message.ShouldContain("0600");
    }

    [Fact]
    public void LoadOrCreate_AFileWithoutAKey_IsRefused()
    {
        var file = Path.Combine(_dir, FileMasterKey.DefaultFileName);
        File.WriteAllText(file, "not a key");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        Should.Throw<MasterKeyException>(() => FileMasterKey.LoadOrCreate(file));
    }
}
