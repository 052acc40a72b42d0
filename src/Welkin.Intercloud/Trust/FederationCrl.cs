using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Welkin.Intercloud.Trust;

public sealed record CrlEntry(DateTimeOffset RevokedAt, X509RevocationReason? Reason);

/// <summary>
/// A CRL whose signature has been checked against the federation CA. .NET can build CRLs but not
/// read their entries, and X509Chain on Linux takes CRLs only from its own cache, so the RFC 5280 5.1
/// CertificateList is read here.
/// </summary>
public sealed class FederationCrl
{
    private const string ReasonCodeOid = "2.5.29.21";
    private const string EcdsaSha256 = "1.2.840.10045.4.3.2";
    private const string RsaSha256 = "1.2.840.113549.1.1.11";

    private readonly Dictionary<string, CrlEntry> _entries;

    private FederationCrl(DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate, Dictionary<string, CrlEntry> entries)
    {
        ThisUpdate = thisUpdate;
        NextUpdate = nextUpdate;
        _entries = entries;
    }

    public DateTimeOffset ThisUpdate { get; }

    public DateTimeOffset? NextUpdate { get; }

    public CrlEntry? Find(string serial) => _entries.GetValueOrDefault(serial.ToUpperInvariant());

    /// <summary>Reads a PEM or DER CRL; throws <see cref="CryptographicException"/> unless <paramref name="ca"/> signed it.</summary>
    public static FederationCrl Load(ReadOnlySpan<byte> crl, X509Certificate2 ca)
    {
        var der = crl.Length > 0 && crl[0] == (byte)'-'
            ? PemToDer(System.Text.Encoding.ASCII.GetString(crl))
            : crl.ToArray();
        try
        {
            return Parse(der, ca);
        }
        catch (AsnContentException e)
        {
            throw new CryptographicException("the CRL is not well-formed", e);
        }
    }

    private static FederationCrl Parse(byte[] der, X509Certificate2 ca)
    {
        var list = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        var tbsBytes = list.ReadEncodedValue();
        var algorithm = list.ReadSequence().ReadObjectIdentifier();
        var signature = list.ReadBitString(out _);
        if (!SignedBy(ca, tbsBytes.Span, algorithm, signature))
        {
            throw new CryptographicException("the CRL is not signed by the federation CA");
        }
        var tbs = new AsnReader(tbsBytes, AsnEncodingRules.DER).ReadSequence();
        if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
        {
            tbs.ReadInteger();
        }
        tbs.ReadSequence();
        var issuer = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
        if (!issuer.RawData.AsSpan().SequenceEqual(ca.SubjectName.RawData))
        {
            throw new CryptographicException("the CRL's issuer is not the federation CA");
        }
        var thisUpdate = ReadTime(tbs);
        DateTimeOffset? nextUpdate = tbs.HasData && IsTime(tbs.PeekTag()) ? ReadTime(tbs) : null;
        var entries = new Dictionary<string, CrlEntry>(StringComparer.Ordinal);
        if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
        {
            var revoked = tbs.ReadSequence();
            while (revoked.HasData)
            {
                var entry = revoked.ReadSequence();
                var serial = Convert.ToHexString(entry.ReadIntegerBytes().Span);
                var at = ReadTime(entry);
                entries[serial] = new CrlEntry(at, entry.HasData ? ReadReason(entry.ReadSequence()) : null);
            }
        }
        return new FederationCrl(thisUpdate, nextUpdate, entries);
    }

    private static bool SignedBy(X509Certificate2 ca, ReadOnlySpan<byte> tbs, string algorithm, byte[] signature)
    {
        using var ecdsa = ca.GetECDsaPublicKey();
        if (ecdsa is not null)
        {
            return algorithm == EcdsaSha256 && ecdsa.VerifyData(tbs, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        using var rsa = ca.GetRSAPublicKey();
        return rsa is not null && algorithm == RsaSha256 && rsa.VerifyData(tbs, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    private static X509RevocationReason? ReadReason(AsnReader extensions)
    {
        while (extensions.HasData)
        {
            var extension = extensions.ReadSequence();
            var oid = extension.ReadObjectIdentifier();
            if (extension.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean))
            {
                extension.ReadBoolean();
            }
            var value = extension.ReadOctetString();
            if (oid == ReasonCodeOid)
            {
                var code = new AsnReader(value, AsnEncodingRules.DER).ReadEnumeratedBytes();
                return (X509RevocationReason)(int)new BigInteger(code.Span, isUnsigned: false, isBigEndian: true);
            }
        }
        return null;
    }

    private static bool IsTime(Asn1Tag tag) => tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();

    private static byte[] PemToDer(string pem)
    {
        var fields = PemEncoding.Find(pem);
        if (pem[fields.Label] is not "X509 CRL")
        {
            throw new CryptographicException("the PEM holds no X509 CRL");
        }
        return Convert.FromBase64String(pem[fields.Base64Data]);
    }
}
