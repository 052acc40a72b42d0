using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Welkin.Intercloud.Trust;

/// <summary>
/// The names a cloud certificate binds, in its subjectAltName: the cloud's XMPP address twice, as the
/// RFC 6120 13.7.1.4 id-on-xmppAddr otherName (what XMPP servers check) and as an RFC 5122 <c>xmpp:</c>
/// URI (what generic tools show), and its API URL as a URI, with the URL's host again as a dNSName or
/// iPAddress for ordinary TLS clients. A reader takes the otherName when present.
/// </summary>
public sealed record CloudIdentity(string Cloud, string XmppAddress, Uri ApiUrl)
{
    public const string XmppAddrOid = "1.3.6.1.5.5.7.8.5";
    private const string SubjectAltNameOid = "2.5.29.17";

    public X509Extension ToExtension()
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true)))
            {
                writer.WriteObjectIdentifier(XmppAddrOid);
                using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true)))
                {
                    writer.WriteCharacterString(UniversalTagNumber.UTF8String, XmppAddress);
                }
            }
            writer.WriteCharacterString(UniversalTagNumber.IA5String, "xmpp:" + XmppAddress, new Asn1Tag(TagClass.ContextSpecific, 6));
            writer.WriteCharacterString(UniversalTagNumber.IA5String, ApiUrl.AbsoluteUri, new Asn1Tag(TagClass.ContextSpecific, 6));
            // The URL's host as a dNSName or iPAddress too, so that ordinary TLS clients (curl, browsers,
            // HttpClient) accept the certificate for the federation listener it serves from.
            if (IPAddress.TryParse(ApiUrl.IdnHost.Trim('[', ']'), out var address))
            {
                writer.WriteOctetString(address.GetAddressBytes(), new Asn1Tag(TagClass.ContextSpecific, 7));
            }
            else
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, ApiUrl.IdnHost, new Asn1Tag(TagClass.ContextSpecific, 2));
            }
        }
        return new X509Extension(SubjectAltNameOid, writer.Encode(), critical: false);
    }

    /// <summary>The XMPP address and URLs a certificate's subjectAltName holds (empty when it has none).</summary>
    public static (IReadOnlyList<string> XmppAddresses, IReadOnlyList<Uri> Urls) Read(X509Certificate2 certificate)
    {
        var xmpp = new List<string>();
        var xmppUris = new List<string>();
        var urls = new List<Uri>();
        var extension = certificate.Extensions[SubjectAltNameOid];
        if (extension is null)
        {
            return (xmpp, urls);
        }
        var names = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadSequence();
        while (names.HasData)
        {
            var tag = names.PeekTag();
            if (tag.HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                var other = names.ReadSequence(tag);
                var oid = other.ReadObjectIdentifier();
                var value = other.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true));
                if (oid == XmppAddrOid)
                {
                    xmpp.Add(value.ReadCharacterString(UniversalTagNumber.UTF8String));
                }
            }
            else if (tag.HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 6)))
            {
                var uri = names.ReadCharacterString(UniversalTagNumber.IA5String, tag);
                if (uri.StartsWith("xmpp:", StringComparison.OrdinalIgnoreCase))
                {
                    xmppUris.Add(uri["xmpp:".Length..]);
                }
                else if (Uri.TryCreate(uri, UriKind.Absolute, out var url))
                {
                    urls.Add(url);
                }
            }
            else
            {
                names.ReadEncodedValue();
            }
        }
        return (xmpp.Count > 0 ? xmpp : xmppUris, urls);
    }
}
