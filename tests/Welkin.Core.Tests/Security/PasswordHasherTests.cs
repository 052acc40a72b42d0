using System.Security.Cryptography;
using Welkin.Core.Security;

namespace Welkin.Core.Tests.Security;

/// <summary>
/// The hash format and its checks, at a small iteration count so each test derives in microseconds;
/// the server tests pin the production count (PasswordIterationsTests).
/// </summary>
public sealed class PasswordHasherTests
{
    private const string Password = "correct horse battery staple";
    private const int Iterations = 1_000;

    private static readonly PasswordHasher Hasher = new(Iterations);

    [Fact]
    public void Hash_HasSchemeConfiguredIterationsSaltAndHash()
    {
        var parts = Hasher.Hash(Password).Split('$');

        parts.Length.ShouldBe(4);
        parts[0].ShouldBe("pbkdf2-sha256");
        parts[1].ShouldBe("1000");
        Convert.FromBase64String(parts[2]).Length.ShouldBe(16);
        Convert.FromBase64String(parts[3]).Length.ShouldBe(32);
    }

    [Fact]
    public void Hash_OfSamePasswordTwice_UsesDifferentSalts()
    {
        var first = Hasher.Hash(Password).Split('$');
        var second = Hasher.Hash(Password).Split('$');

        first[2].ShouldNotBe(second[2]);
        first[3].ShouldNotBe(second[3]);
    }

    [Fact]
    public void Hash_IsPbkdf2Sha256OfThePasswordWithItsSalt()
    {
        var parts = Hasher.Hash(Password).Split('$');

        var expected = Rfc2898DeriveBytes.Pbkdf2(Password, Convert.FromBase64String(parts[2]), Iterations, HashAlgorithmName.SHA256, 32);

        Convert.FromBase64String(parts[3]).ShouldBe(expected);
    }

    [Fact]
    public void Verify_WithRightPassword_IsTrue() => Hasher.Verify(Password, Hasher.Hash(Password)).ShouldBeTrue();

    [Theory]
    [InlineData("correct horse battery stapl")]
    [InlineData("Correct horse battery staple")]
    [InlineData("correct horse battery staple ")]
    [InlineData("")]
    public void Verify_WithWrongPassword_IsFalse(string attempt) => Hasher.Verify(attempt, Hasher.Hash(Password)).ShouldBeFalse();

    [Fact]
    public void Verify_WithoutStoredHash_IsFalseEvenForTheDummyPassword() =>
        Hasher.Verify("not-a-real-password-0000", null).ShouldBeFalse();

    [Theory]
    [InlineData("")]
    [InlineData("plain-text-password")]
    [InlineData("pbkdf2-sha256$600000$notbase64!$AAAA")]
    [InlineData("pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA==$")]
    [InlineData("pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA==$AAAA")]
    [InlineData("bcrypt$10$AAAAAAAAAAAAAAAAAAAAAA==$AAAA")]
    public void Verify_WithCorruptStoredHash_IsFalseNotAnException(string stored) => Hasher.Verify(Password, stored).ShouldBeFalse();

    [Fact]
    public void Verify_HonoursTheIterationCountStoredWithTheHash()
    {
        // A hash made with another work factor still verifies after the setting changed, either way.
        var salt = new byte[16];
        var hash = Rfc2898DeriveBytes.Pbkdf2(Password, salt, 500, HashAlgorithmName.SHA256, 32);
        var stored = $"pbkdf2-sha256$500${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";

        Hasher.Verify(Password, stored).ShouldBeTrue();
        new PasswordHasher(2 * Iterations).Verify(Password, Hasher.Hash(Password)).ShouldBeTrue();
        Hasher.Verify(Password, new PasswordHasher(2 * Iterations).Hash(Password)).ShouldBeTrue();
    }

    [Fact]
    public void New_WithFewerThanOneIteration_Throws() => Should.Throw<ArgumentOutOfRangeException>(() => new PasswordHasher(0));

    [Theory]
    [InlineData(11, false)]
    [InlineData(12, true)]
    [InlineData(256, true)]
    [InlineData(257, false)]
    public void Problem_EnforcesLength(int length, bool acceptable) => (PasswordHasher.Problem(new string('p', length)) is null).ShouldBe(acceptable);
}

public sealed class SecurityOptionsTests
{
    [Fact]
    public void PasswordIterations_DefaultsToTheProductionCount() =>
        new SecurityOptions().PasswordIterations.ShouldBe(PasswordHasher.DefaultIterations);

    [Theory]
    [InlineData(PasswordHasher.MinIterations - 1, false, false)]
    [InlineData(PasswordHasher.MinIterations, false, true)]
    [InlineData(PasswordHasher.DefaultIterations, false, true)]
    [InlineData(1_000, true, true)]
    [InlineData(1, true, true)]
    [InlineData(0, true, false)]
    public void Validate_RefusesIterationsBelowTheFloor_WhichOnlyTestingLowers(int iterations, bool testing, bool valid)
    {
        var options = new SecurityOptions { PasswordIterations = iterations };

        if (valid)
        {
            Should.NotThrow(() => options.Validate(testing));
        }
        else
        {
            Should.Throw<ArgumentException>(() => options.Validate(testing)).Message.ShouldContain("Security:PasswordIterations");
        }
    }
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
