using System.Security.Cryptography;
using System.Text;

namespace Welkin.Core.Security;

/// <summary>
/// API tokens: 256 random bits, base64url, prefixed so secret scanners recognise them.
/// Only the SHA-256 of a token is stored: a token has far more entropy than a password,
/// so a slow hash adds nothing and would slow every request.
/// </summary>
public static class ApiTokens
{
    public const string Prefix = "wkn_";

    public static string NewSecret()
    {
        Span<byte> bytes = stackalloc byte[32];
        RandomNumberGenerator.Fill(bytes);
        return Prefix + Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    public static bool LooksValid(string? secret) =>
        secret is { Length: 47 } && secret.StartsWith(Prefix, StringComparison.Ordinal)
        && secret.AsSpan(Prefix.Length).IndexOfAnyExcept(Base64Url) < 0;

    private static readonly System.Buffers.SearchValues<char> Base64Url =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

/// <summary>
/// Passwords: PBKDF2-HMAC-SHA256 with a 128-bit per-principal salt. New hashes take the
/// configured iteration count (<see cref="SecurityOptions.PasswordIterations"/>; by default
/// 600,000, the OWASP 2023 figure for this construction). Stored as
/// <c>pbkdf2-sha256$iterations$salt$hash</c>: verification uses the count stored with the hash,
/// so the work factor can change without invalidating existing hashes.
/// </summary>
public sealed class PasswordHasher
{
    public const int DefaultIterations = 600_000;

    /// <summary>
    /// The fewest iterations a server accepts outside the Testing environment: a sixth of the
    /// default and ten times the 10,000 of NIST SP 800-63B 5.1.1.2, room to lighten logins on a
    /// small host without making an offline guess cheap.
    /// </summary>
    public const int MinIterations = 100_000;

    public const int MinLength = 12;
    public const int MaxLength = 256;
    private const string Scheme = "pbkdf2-sha256";

    private readonly int _iterations;
    private readonly Lazy<string> _dummyHash;

    public PasswordHasher(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        _iterations = iterations;
        _dummyHash = new(() => Hash("not-a-real-password-0000"));
    }

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, _iterations, HashAlgorithmName.SHA256, 32);
        return $"{Scheme}${_iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public bool Verify(string password, string? stored)
    {
        // With no stored hash the comparison still costs a full derivation at the configured
        // count, so response time does not reveal whether a principal exists.
        var target = stored ?? _dummyHash.Value;
        var parts = target.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], out var iterations) || iterations < 1)
        {
            return false;
        }
        var salt = new byte[parts[2].Length];
        var expected = new byte[parts[3].Length];
        if (!Convert.TryFromBase64String(parts[2], salt, out var saltLength) || !Convert.TryFromBase64String(parts[3], expected, out var hashLength) || hashLength == 0)
        {
            return false;
        }
        salt = salt[..saltLength];
        expected = expected[..hashLength];
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected) && stored is not null;
    }

    public static string? Problem(string password) =>
        password.Length < MinLength ? $"must be at least {MinLength} characters"
        : password.Length > MaxLength ? $"must be at most {MaxLength} characters"
        : null;
}
