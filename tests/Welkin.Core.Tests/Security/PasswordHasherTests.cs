using Welkin.Core.Security;

namespace Welkin.Core.Tests.Security;

public sealed class PasswordHasherTests
{
    private const string Password = "correct horse battery staple";

    [Fact]
    public void Hash_HasSchemeIterationsSaltAndHash()
    {
        var parts = PasswordHasher.Hash(Password).Split('$');

        parts.Length.ShouldBe(4);
        parts[0].ShouldBe("pbkdf2-sha256");
        parts[1].ShouldBe("600000");
        Convert.FromBase64String(parts[2]).Length.ShouldBe(16);
        Convert.FromBase64String(parts[3]).Length.ShouldBe(32);
    }

    [Fact]
    public void Hash_OfSamePasswordTwice_UsesDifferentSalts()
    {
        var first = PasswordHasher.Hash(Password).Split('$');
        var second = PasswordHasher.Hash(Password).Split('$');

        first[2].ShouldNotBe(second[2]);
        first[3].ShouldNotBe(second[3]);
    }

    [Fact]
    public void Hash_IsPbkdf2Sha256OfThePasswordWithItsSalt()
    {
        var parts = PasswordHasher.Hash(Password).Split('$');

        var expected = System.Security.Cryptography.Rfc2898DeriveBytes.Pbkdf2(
            Password, Convert.FromBase64String(parts[2]), 600_000, System.Security.Cryptography.HashAlgorithmName.SHA256, 32);

        Convert.FromBase64String(parts[3]).ShouldBe(expected);
    }

    [Fact]
    public void Verify_WithRightPassword_IsTrue() => PasswordHasher.Verify(Password, PasswordHasher.Hash(Password)).ShouldBeTrue();

    [Theory]
    [InlineData("correct horse battery stapl")]
    [InlineData("Correct horse battery staple")]
    [InlineData("correct horse battery staple ")]
    [InlineData("")]
    public void Verify_WithWrongPassword_IsFalse(string attempt) => PasswordHasher.Verify(attempt, PasswordHasher.Hash(Password)).ShouldBeFalse();

    [Fact]
    public void Verify_WithoutStoredHash_IsFalseEvenForTheDummyPassword() =>
        PasswordHasher.Verify("not-a-real-password-0000", null).ShouldBeFalse();

    [Theory]
    [InlineData("")]
    [InlineData("plain-text-password")]
    [InlineData("pbkdf2-sha256$600000$notbase64!$AAAA")]
    [InlineData("pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA==$")]
    [InlineData("pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA==$AAAA")]
    [InlineData("bcrypt$10$AAAAAAAAAAAAAAAAAAAAAA==$AAAA")]
    public void Verify_WithCorruptStoredHash_IsFalseNotAnException(string stored) => PasswordHasher.Verify(Password, stored).ShouldBeFalse();

    [Fact]
    public void Verify_HonoursTheIterationCountStoredWithTheHash()
    {
        // A hash made with an older, smaller work factor still verifies after the default rises.
        var salt = new byte[16];
        var hash = System.Security.Cryptography.Rfc2898DeriveBytes.Pbkdf2(Password, salt, 1000, System.Security.Cryptography.HashAlgorithmName.SHA256, 32);
        var stored = $"pbkdf2-sha256$1000${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";

        PasswordHasher.Verify(Password, stored).ShouldBeTrue();
    }

    [Theory]
    [InlineData(11, false)]
    [InlineData(12, true)]
    [InlineData(256, true)]
    [InlineData(257, false)]
    public void Problem_EnforcesLength(int length, bool acceptable) => (PasswordHasher.Problem(new string('p', length)) is null).ShouldBe(acceptable);
}

public sealed class ApiTokensTests
{
    [Fact]
    public void NewSecret_Carries256RandomBits()
    {
        var secret = ApiTokens.NewSecret();

        secret.ShouldStartWith(ApiTokens.Prefix);
        secret.Length.ShouldBe(47);
        Convert.FromBase64String(secret[4..].Replace('-', '+').Replace('_', '/') + "=").Length.ShouldBe(32);
        ApiTokens.LooksValid(secret).ShouldBeTrue();
    }

    [Fact]
    public void NewSecret_NeverRepeats()
    {
        var secrets = Enumerable.Range(0, 1000).Select(_ => ApiTokens.NewSecret()).ToHashSet();

        secrets.Count.ShouldBe(1000);
    }

    [Fact]
    public void Hash_IsSha256HexAndDoesNotContainTheSecret()
    {
        var secret = ApiTokens.NewSecret();

        var hash = ApiTokens.Hash(secret);

        hash.Length.ShouldBe(64);
        hash.ShouldNotContain(secret[4..]);
        ApiTokens.Hash(secret).ShouldBe(hash);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("wkn_")]
    [InlineData("xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("wkn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+")]
    [InlineData("wkn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void LooksValid_RejectsMalformedSecrets(string? secret) => ApiTokens.LooksValid(secret).ShouldBeFalse();
}
