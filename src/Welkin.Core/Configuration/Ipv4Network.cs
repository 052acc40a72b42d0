using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Welkin.Core.Configuration;

/// <summary>
/// An IPv4 network in CIDR notation (RFC 4632). Tenant networks are /16 to /29: the first
/// address is the network, the last the broadcast address (RFC 919), and the first host address
/// is the gateway, so machines get addresses from the second host address on.
/// </summary>
public readonly record struct Ipv4Network(uint First, int PrefixLength)
{
    public const int MinPrefix = 16;
    public const int MaxPrefix = 29;
    public const string Default = "10.0.0.0/24";

    public long Size => 1L << (32 - PrefixLength);

    public uint Last => (uint)(First + Size - 1);

    public uint Gateway => First + 1;

    /// <summary>Addresses a machine may get: from the one after the gateway to the one before broadcast.</summary>
    public long HostCount => Size - 3;

    public override string ToString() => $"{Format(First)}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";

    public bool Overlaps(Ipv4Network other) => First <= other.Last && other.First <= Last;

    /// <summary>The address of host number <paramref name="index"/> (0 = the first address a machine may get).</summary>
    public uint HostAddress(long index) => (uint)(First + 2 + index);

    /// <summary>Parses "a.b.c.d/n"; the reason it is not acceptable otherwise.</summary>
    public static bool TryParse(string? text, out Ipv4Network network, out string problem)
    {
        network = default;
        problem = "";
        var slash = text?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (text is null || slash < 0 || !TryParseAddress(text[..slash], out var address)
            || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > 32)
        {
            problem = "cidr must be an IPv4 network such as 10.0.0.0/24";
            return false;
        }
        if (prefix is < MinPrefix or > MaxPrefix)
        {
            problem = $"cidr prefix length must be /{MinPrefix} to /{MaxPrefix}";
            return false;
        }
        var mask = uint.MaxValue << (32 - prefix);
        if ((address & ~mask) != 0)
        {
            problem = $"cidr has host bits set; the network is {Format(address & mask)}/{prefix}";
            return false;
        }
        network = new Ipv4Network(address, prefix);
        return true;
    }

    public static string Format(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}");

    private static bool TryParseAddress(string text, out uint address)
    {
        address = 0;
        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }
        foreach (var part in parts)
        {
            // No leading zeros: "010" is octal to some parsers and decimal to others.
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0')
                || !uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var octet) || octet > 255)
            {
                return false;
            }
            address = (address << 8) | octet;
        }
        return true;
    }

    /// <summary>
    /// The MAC of a machine's NIC on a network: derived from both ids, so a re-run after a crash
    /// gives the same one. Prefix 52:54:00 is the range QEMU/KVM guests use.
    /// </summary>
    public static string Mac(string networkId, string machineId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(networkId + "/" + machineId));
        return string.Create(CultureInfo.InvariantCulture, $"52:54:00:{hash[0]:x2}:{hash[1]:x2}:{hash[2]:x2}");
    }
}
