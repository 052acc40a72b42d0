using System.Security.Cryptography;

namespace Welkin.Core.Common;

/// <summary>
/// Resource ids: a kind prefix, an underscore and 26 characters of lower-case Crockford base32
/// (the ULID layout: 48 bits of milliseconds, then 24 bits of a per-process sequence and 56 random
/// bits), so ids sort by creation time, also within one millisecond, and cannot be guessed.
/// </summary>
public static class Ids
{
    public const string Account = "acc";
    public const string Principal = "prn";
    public const string Token = "tok";
    public const string Template = "tpl";
    public const string Offering = "off";
    public const string Image = "img";
    public const string Host = "hst";
    public const string Contract = "ctr";
    public const string Instance = "ins";
    public const string Machine = "mch";
    public const string Job = "job";
    public const string Volume = "vol";
    public const string Network = "net";
    public const string Invoice = "inv";
    public const string LimitRequest = "lrq";
    public const string Agreement = "agr";
    public const string Resale = "rsl";
    public const string Upload = "upl";
    public const string Vault = "vlt";
    public const string VaultRecord = "vrc";
    public const string VaultGrant = "vgr";
    public const string VaultUpload = "vup";

    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    private static int _sequence;

    public static string New(string prefix, TimeProvider clock)
    {
        Span<byte> bytes = stackalloc byte[16];
        var ms = (ulong)clock.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < 6; i++)
        {
            bytes[i] = (byte)(ms >> (8 * (5 - i)));
        }
        // The sequence orders the ids made within one millisecond (it wraps after 16,777,216 ids);
        // the 56 random bits after it keep them unguessable.
        var sequence = (uint)Interlocked.Increment(ref _sequence) & 0xFFFFFF;
        bytes[6] = (byte)(sequence >> 16);
        bytes[7] = (byte)(sequence >> 8);
        bytes[8] = (byte)sequence;
        RandomNumberGenerator.Fill(bytes[9..]);
        return string.Create(prefix.Length + 27, (prefix, bytes.ToArray()), static (span, state) =>
        {
            state.prefix.AsSpan().CopyTo(span);
            span[state.prefix.Length] = '_';
            var output = span[(state.prefix.Length + 1)..];
            var hi = ((ulong)state.Item2[0] << 56) | ((ulong)state.Item2[1] << 48) | ((ulong)state.Item2[2] << 40) | ((ulong)state.Item2[3] << 32)
                | ((ulong)state.Item2[4] << 24) | ((ulong)state.Item2[5] << 16) | ((ulong)state.Item2[6] << 8) | state.Item2[7];
            var lo = ((ulong)state.Item2[8] << 56) | ((ulong)state.Item2[9] << 48) | ((ulong)state.Item2[10] << 40) | ((ulong)state.Item2[11] << 32)
                | ((ulong)state.Item2[12] << 24) | ((ulong)state.Item2[13] << 16) | ((ulong)state.Item2[14] << 8) | state.Item2[15];
            var value = new UInt128(hi, lo);
            for (var i = 25; i >= 0; i--)
            {
                output[i] = Alphabet[(int)(value & 31)];
                value >>= 5;
            }
        });
    }

    public static bool IsValid(string? id, string prefix)
    {
        if (id is null || id.Length != prefix.Length + 27 || !id.StartsWith(prefix, StringComparison.Ordinal) || id[prefix.Length] != '_')
        {
            return false;
        }
        // The first character carries only 3 bits (128 = 26 * 5 - 2).
        if (id[prefix.Length + 1] > '7')
        {
            return false;
        }
        foreach (var c in id.AsSpan(prefix.Length + 1))
        {
            if (!Alphabet.Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }
}

/// <summary>Names people and programs choose (account names, principal names): short, lower-case, URL-safe.</summary>
public static class Names
{
    public const int MaxLength = 63;

    public static bool IsValid(string? name) =>
        name is { Length: > 0 and <= MaxLength }
        && char.IsAsciiLetterLower(name[0])
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.' or '_');

    public const string Rule = "must be 1-63 characters of a-z, 0-9, '-', '.', '_', starting with a letter";
}
