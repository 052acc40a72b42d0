using System.Xml;
using System.Xml.Linq;

namespace Welkin.Server.S3;

/// <summary>
/// Reads the XML bodies of S3 requests safely: DTDs prohibited and nothing resolved (no external
/// entities, no entity expansion), the size bounded, the nesting bounded, and the bytes checked
/// against what the signature covers. Every refusal is an S3 error, never an exception.
/// </summary>
public static class S3Xml
{
    /// <summary>Deeper than any S3 request document (Delete/Object/Key is three levels).</summary>
    public const int MaxDepth = 32;

    public static async Task<(XDocument? Document, S3Error? Error)> ReadAsync(HttpRequest request, S3Identity identity, long maxBytes, CancellationToken ct)
    {
        var (bytes, error) = await ReadBodyAsync(request, identity, maxBytes, ct);
        return error is not null ? (null, error) : Parse(bytes!);
    }

    /// <summary>
    /// A small body, whole, as its signature covers it (<see cref="S3Body.Open"/>: its SHA-256 checked,
    /// or aws-chunked decoded with every chunk signature verified), within <paramref name="maxBytes"/>.
    /// </summary>
    public static async Task<(byte[]? Body, S3Error? Error)> ReadBodyAsync(HttpRequest request, S3Identity identity, long maxBytes, CancellationToken ct)
    {
        var (stream, refused) = S3Body.Open(request, identity);
        if (refused is not null)
        {
            return (null, refused);
        }
        var declared = S3Body.IsChunked(identity.ContentSha256)
            ? long.TryParse(request.Headers["x-amz-decoded-content-length"].ToString(), out var decoded) ? decoded : (long?)null
            : request.ContentLength;
        if (declared > maxBytes)
        {
            return (null, S3Errors.BodyTooLarge(maxBytes));
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await stream!.ReadAsync(chunk, ct)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return (null, S3Errors.BodyTooLarge(maxBytes));
                }
                buffer.Write(chunk, 0, read);
            }
        }
        catch (S3PayloadException e)
        {
            return (null, e.Error);
        }
        return (buffer.ToArray(), null);
    }

    public static (XDocument? Document, S3Error? Error) Parse(byte[] body)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = body.Length + 1L,
            MaxCharactersFromEntities = 0,
            IgnoreProcessingInstructions = true,
            Async = false,
        };
        try
        {
            using var stream = new MemoryStream(body, writable: false);
            using var reader = XmlReader.Create(stream, settings);
            using var bounded = new DepthLimit(reader);
            return (XDocument.Load(bounded), null);
        }
        catch (Exception e) when (e is XmlException or InvalidOperationException)
        {
            return (null, S3Errors.MalformedXml() with { Cause = e.Message });
        }
    }

    /// <summary>An XML reader that fails once elements nest deeper than <see cref="MaxDepth"/>.</summary>
    private sealed class DepthLimit(XmlReader inner) : XmlReader
    {
        public override bool Read()
        {
            var more = inner.Read();
            if (more && inner.Depth > MaxDepth)
            {
                throw new XmlException($"The document nests deeper than {MaxDepth} levels.");
            }
            return more;
        }

        public override XmlNodeType NodeType => inner.NodeType;

        public override string LocalName => inner.LocalName;

        public override string NamespaceURI => inner.NamespaceURI;

        public override string Prefix => inner.Prefix;

        public override string Value => inner.Value;

        public override int Depth => inner.Depth;

        public override string BaseURI => inner.BaseURI;

        public override bool IsEmptyElement => inner.IsEmptyElement;

        public override int AttributeCount => inner.AttributeCount;

        public override bool EOF => inner.EOF;

        public override ReadState ReadState => inner.ReadState;

        public override XmlNameTable NameTable => inner.NameTable;

        public override string GetAttribute(int i) => inner.GetAttribute(i);

        public override string? GetAttribute(string name) => inner.GetAttribute(name);

        public override string? GetAttribute(string name, string? namespaceURI) => inner.GetAttribute(name, namespaceURI);

        public override string? LookupNamespace(string prefix) => inner.LookupNamespace(prefix);

        public override bool MoveToAttribute(string name) => inner.MoveToAttribute(name);

        public override bool MoveToAttribute(string name, string? ns) => inner.MoveToAttribute(name, ns);

        public override bool MoveToElement() => inner.MoveToElement();

        public override bool MoveToFirstAttribute() => inner.MoveToFirstAttribute();

        public override bool MoveToNextAttribute() => inner.MoveToNextAttribute();

        public override bool ReadAttributeValue() => inner.ReadAttributeValue();

        public override void ResolveEntity() => inner.ResolveEntity();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
