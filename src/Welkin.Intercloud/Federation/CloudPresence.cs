using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Xml.Linq;
using Welkin.Contracts;

namespace Welkin.Intercloud.Federation;

/// <summary>
/// What a cloud says of itself in its presence, in <c>urn:welkin:federation:1</c>: its name, the URL
/// peers call it at, its certificate (and that certificate's fingerprint), a sequence number that only
/// grows, when it was issued, its availability and its capacity. The whole is signed with the key of the
/// certificate, so a party that holds only the cloud's XMPP password cannot speak for it.
/// </summary>
public sealed record CloudPresence(
    string Name,
    Uri Url,
    string Fingerprint,
    byte[] Certificate,
    long Sequence,
    DateTimeOffset IssuedAt,
    string Availability,
    CloudCapacity Capacity)
{
    public const string Namespace = "urn:welkin:federation:1";
    public const string Available = "available";

    public static readonly XNamespace Ns = Namespace;
    public static readonly XName ElementName = Ns + "cloud";

    /// <summary>At most this many regions are read from a payload; a cloud with more publishes the largest.</summary>
    public const int MaxRegions = 64;

    private const int MaxText = 512;

    /// <summary>SHA-256 of a certificate (DER), lower-case hex.</summary>
    public static string FingerprintOf(byte[] der) => Convert.ToHexStringLower(SHA256.HashData(der));

    /// <summary>
    /// The bytes the signature covers: every field, in a fixed order, each as its length and its
    /// UTF-8 text, so no two payloads share a form and XML whitespace or attribute order do not matter.
    /// </summary>
    public byte[] CanonicalBytes()
    {
        var fields = new List<string>
        {
            Namespace, Name, Url.AbsoluteUri, Fingerprint, Convert.ToBase64String(Certificate),
            Sequence.ToString(CultureInfo.InvariantCulture), IssuedAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
            Availability, Capacity.Offerings.ToString(CultureInfo.InvariantCulture), Capacity.Regions.Count.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var r in Capacity.Regions)
        {
            fields.AddRange([r.Jurisdiction, r.Region, Number(r.FreeVcpus), Number(r.FreeMemoryMiB), Number(r.FreeStorageGiB)]);
        }
        var text = new StringBuilder();
        foreach (var field in fields)
        {
            text.Append(Encoding.UTF8.GetByteCount(field).ToString(CultureInfo.InvariantCulture)).Append(':').Append(field).Append('\n');
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>The signed payload element, signed with <paramref name="certificate"/>'s private key (ECDSA P-256 with SHA-256, or RSA-PSS with SHA-256).</summary>
    public XElement ToSignedXml(X509Certificate2 certificate)
    {
        var data = CanonicalBytes();
        byte[] signature;
        using (var ecdsa = certificate.GetECDsaPrivateKey())
        using (var rsa = ecdsa is null ? certificate.GetRSAPrivateKey() : null)
        {
            signature = ecdsa?.SignData(data, HashAlgorithmName.SHA256)
                ?? rsa?.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss)
                ?? throw new InvalidOperationException("The cloud's certificate has no ECDSA or RSA private key.");
        }
        return ToXml(Convert.ToBase64String(signature));
    }

    /// <summary>The payload element with the given signature (base64).</summary>
    public XElement ToXml(string signature) =>
        new(ElementName,
            new XAttribute("name", Name),
            new XAttribute("url", Url.AbsoluteUri),
            new XAttribute("fingerprint", Fingerprint),
            new XAttribute("sequence", Sequence),
            new XAttribute("issued-at", IssuedAt.ToUnixTimeMilliseconds()),
            new XAttribute("availability", Availability),
            new XElement(Ns + "certificate", Convert.ToBase64String(Certificate)),
            new XElement(Ns + "capacity", new XAttribute("offerings", Capacity.Offerings),
                Capacity.Regions.Select(r => new XElement(Ns + "region",
                    new XAttribute("jurisdiction", r.Jurisdiction),
                    new XAttribute("region", r.Region),
                    new XAttribute("vcpus", r.FreeVcpus),
                    new XAttribute("memory-mib", r.FreeMemoryMiB),
                    new XAttribute("storage-gib", r.FreeStorageGiB)))),
            new XElement(Ns + "signature", signature));

    /// <summary>Reads a payload element and its signature; the error says what is wrong with it.</summary>
    public static (CloudPresence? Presence, byte[]? Signature, string? Error) Parse(XElement element)
    {
        try
        {
            if (element.Name != ElementName)
            {
                return (null, null, $"the payload is not a {ElementName.LocalName} element in {Namespace}");
            }
            var capacity = element.Element(Ns + "capacity") ?? throw new FormatException("no capacity");
            var regions = capacity.Elements(Ns + "region").ToList();
            if (regions.Count > MaxRegions)
            {
                throw new FormatException($"more than {MaxRegions} regions");
            }
            var presence = new CloudPresence(
                Text(element, "name"),
                new Uri(Text(element, "url"), UriKind.Absolute),
                Text(element, "fingerprint"),
                Convert.FromBase64String(element.Element(Ns + "certificate")?.Value ?? throw new FormatException("no certificate")),
                long.Parse(Text(element, "sequence"), NumberStyles.None, CultureInfo.InvariantCulture),
                DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(Text(element, "issued-at"), NumberStyles.None, CultureInfo.InvariantCulture)),
                Text(element, "availability"),
                new CloudCapacity(
                    regions.Select(r => new RegionCapacity(Text(r, "jurisdiction"), Text(r, "region"), Count(r, "vcpus"), Count(r, "memory-mib"), Count(r, "storage-gib"))).ToList(),
                    (int)Math.Min(int.MaxValue, Count(capacity, "offerings"))));
            var signature = Convert.FromBase64String(element.Element(Ns + "signature")?.Value ?? throw new FormatException("no signature"));
            return (presence, signature, null);
        }
        catch (Exception exception) when (exception is FormatException or OverflowException or ArgumentException)
        {
            return (null, null, $"the presence payload is malformed ({exception.Message})");
        }
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(XElement element, string attribute)
    {
        var value = element.Attribute(attribute)?.Value;
        if (string.IsNullOrEmpty(value) || value.Length > MaxText || value.Any(char.IsControl))
        {
            throw new FormatException($"{element.Name.LocalName}/@{attribute} is missing or not a short line of text");
        }
        return value;
    }

    private static long Count(XElement element, string attribute) =>
        long.Parse(Text(element, attribute), NumberStyles.None, CultureInfo.InvariantCulture);
}
