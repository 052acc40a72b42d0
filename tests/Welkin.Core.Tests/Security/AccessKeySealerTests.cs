using Welkin.Core.Security;

namespace Welkin.Core.Tests.Security;

public sealed class AccessKeySealerTests
{
    [Fact]
    public void Sealed_OpensForItsOwnKeyIdOnly()
    {
        var sealer = AccessKeySealer.Ephemeral();
        var id = AccessKeys.NewId();

        var sealedValue = sealer.Seal(id, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");

        sealedValue.ShouldNotContain("wJalrXUtnFEMI");
        sealer.Open(id, sealedValue).ShouldBe("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        sealer.Open(AccessKeys.NewId(), sealedValue).ShouldBeNull("a sealed secret moved to another key's row must not open");
        AccessKeySealer.Ephemeral().Open(id, sealedValue).ShouldBeNull("another sealing key opens nothing");
    }

    [Theory]
    [InlineData("")]
    [InlineData("a256gcm$0000$")]
    [InlineData("a256gcm$x$not base64")]
    [InlineData("plain-secret")]
    public void Garbage_OpensToNull(string value)
    {
        var sealer = AccessKeySealer.Ephemeral();

        sealer.Open(AccessKeys.NewId(), value).ShouldBeNull();
    }

    [Fact]
    public void Tampered_OpensToNull()
    {
        var sealer = AccessKeySealer.Ephemeral();
        var id = AccessKeys.NewId();
        var parts = sealer.Seal(id, "secret").Split('$');
        var bytes = Convert.FromBase64String(parts[2]);
        bytes[^1] ^= 1;

        sealer.Open(id, $"{parts[0]}${parts[1]}${Convert.ToBase64String(bytes)}").ShouldBeNull();
    }

    [Fact]
    public void KeyFile_IsCreatedOwnerOnly_AndReadBackTheSame()
    {
        var directory = Path.Combine(Path.GetTempPath(), "welkin-sealer-" + Guid.NewGuid().ToString("n"));
        try
        {
            var file = Path.Combine(directory, "access-keys.key");
            var first = AccessKeySealer.LoadOrCreate(file);
            var sealedValue = first.Seal("WKAAAAAAAAAAAAAAAAAA", "s3cret");

            var second = AccessKeySealer.LoadOrCreate(file);

            first.Created.ShouldBeTrue();
            second.Created.ShouldBeFalse();
            File.GetUnixFileMode(file).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            second.Open("WKAAAAAAAAAAAAAAAAAA", sealedValue).ShouldBe("s3cret");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void NewIds_AreValid_AndOthersAreNot()
    {
        AccessKeys.IsValidId(AccessKeys.NewId()).ShouldBeTrue();
        AccessKeys.IsValidId("AKIAIOSFODNN7EXAMPLE").ShouldBeFalse();
        AccessKeys.IsValidId("WKaaaaaaaaaaaaaaaaaa").ShouldBeFalse();
        AccessKeys.IsValidId("WK").ShouldBeFalse();
        AccessKeys.IsValidId(null).ShouldBeFalse();
    }
}
