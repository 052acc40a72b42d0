using System.Xml;
using System.Xml.Linq;

namespace Welkin.Intercloud.Xmpp;

/// <summary>One read from an XMPP stream: a stanza, a clean end of the stream, or an error that ends it.</summary>
public sealed record StanzaRead(XElement? Stanza, XmppError? Error)
{
    public bool Closed => Stanza is null && Error is null;
}

/// <summary>
/// Reads an XMPP stream (RFC 6120 4) incrementally: the &lt;stream:stream&gt; header, then each top-level
/// stanza as an <see cref="XElement"/>, enforcing <see cref="XmppStreamLimits"/> as it goes. A stream
/// restart (after STARTTLS or SASL) takes a new reader over the new transport.
/// </summary>
public sealed class XmlStanzaReader : IDisposable
{
    public const string StreamsNamespace = "http://etherx.jabber.org/streams";
    private const string XmlnsNamespace = "http://www.w3.org/2000/xmlns/";
    private readonly XmppStreamLimits _limits;
    private readonly BudgetStream _input;
    private readonly XmlReader _reader;

    public XmlStanzaReader(Stream stream, XmppStreamLimits limits)
    {
        _limits = limits;
        _input = new BudgetStream(stream, limits.ReadChunkBytes);
        // RFC 6120 11.1: no DTDs, hence no entity but the predefined ones; nothing is fetched.
        var settings = new XmlReaderSettings
        {
            Async = true,
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            CloseInput = false,
            IgnoreComments = false,
            IgnoreProcessingInstructions = false,
            MaxCharactersFromEntities = 1024,
        };
        _reader = XmlReader.Create(_input, settings);
    }

    /// <summary>The peer's stream header, its attributes only (id, from, version).</summary>
    public async Task<StanzaRead> ReadHeaderAsync(CancellationToken cancellationToken)
    {
        _input.StartBudget(_limits.MaxStanzaBytes);
        return await GuardAsync(async () =>
        {
            while (await _reader.ReadAsync())
            {
                if (_reader.NodeType == XmlNodeType.Element)
                {
                    if (_reader.LocalName != "stream" || _reader.NamespaceURI != StreamsNamespace)
                    {
                        return new StanzaRead(null, XmppError.Protocol("The peer did not open an XMPP stream."));
                    }

                    return new StanzaRead(NewElement(), null);
                }

                if (_reader.NodeType is not (XmlNodeType.XmlDeclaration or XmlNodeType.Whitespace))
                {
                    return new StanzaRead(null, XmppError.Protocol("The peer sent something before its stream header."));
                }
            }

            return new StanzaRead(null, XmppError.Protocol("The peer closed the connection before opening a stream."));
        }, cancellationToken);
    }

    /// <summary>The next top-level stanza; <see cref="StanzaRead.Closed"/> once the peer ends its stream.</summary>
    public async Task<StanzaRead> ReadStanzaAsync(CancellationToken cancellationToken)
    {
        _input.StartBudget(_limits.MaxStanzaBytes);
        return await GuardAsync(async () =>
        {
            while (await _reader.ReadAsync())
            {
                switch (_reader.NodeType)
                {
                    case XmlNodeType.Whitespace:
                        continue;
                    case XmlNodeType.EndElement when _reader.Depth == 0:
                        return new StanzaRead(null, null);
                    case XmlNodeType.Element when _reader.Depth == 1:
                        return await ReadElementAsync();
                    default:
                        return new StanzaRead(null, XmppError.Protocol("The peer sent text or markup XMPP does not allow between stanzas."));
                }
            }

            return new StanzaRead(null, new XmppError("xmpp-connection-closed", "The peer closed the connection without ending its stream."));
        }, cancellationToken);
    }

    public void Dispose() => _reader.Dispose();

    private async Task<StanzaRead> ReadElementAsync()
    {
        var stanza = NewElement();
        if (_reader.IsEmptyElement)
        {
            return new StanzaRead(stanza, null);
        }

        var open = new Stack<XElement>();
        open.Push(stanza);
        while (await _reader.ReadAsync())
        {
            switch (_reader.NodeType)
            {
                case XmlNodeType.Element:
                    if (_reader.Depth > _limits.MaxDepth)
                    {
                        return new StanzaRead(null, new XmppError("xmpp-policy-violation", $"A stanza nests elements deeper than {_limits.MaxDepth}."));
                    }

                    var child = NewElement();
                    open.Peek().Add(child);
                    if (!_reader.IsEmptyElement)
                    {
                        open.Push(child);
                    }

                    break;
                case XmlNodeType.EndElement:
                    open.Pop();
                    if (open.Count == 0)
                    {
                        return new StanzaRead(stanza, null);
                    }

                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    open.Peek().Add(new XText(await _reader.GetValueAsync()));
                    break;
                default:
                    // RFC 6120 11.1: comments, processing instructions and the like are restricted XML.
                    return new StanzaRead(null, new XmppError("xmpp-restricted-xml", "A stanza carries XML that XMPP does not allow (a comment or a processing instruction)."));
            }
        }

        return new StanzaRead(null, new XmppError("xmpp-connection-closed", "The peer closed the connection in the middle of a stanza."));
    }

    private XElement NewElement()
    {
        var element = new XElement(XNamespace.Get(_reader.NamespaceURI) + _reader.LocalName);
        while (_reader.MoveToNextAttribute())
        {
            if (_reader.NamespaceURI != XmlnsNamespace)
            {
                element.SetAttributeValue(XNamespace.Get(_reader.NamespaceURI) + _reader.LocalName, _reader.Value);
            }
        }

        _reader.MoveToElement();
        return element;
    }

    private async Task<StanzaRead> GuardAsync(Func<Task<StanzaRead>> read, CancellationToken cancellationToken)
    {
        _input.CancellationToken = cancellationToken;
        try
        {
            return await read();
        }
        catch (StanzaTooLargeException)
        {
            return new StanzaRead(null, new XmppError("xmpp-policy-violation", $"A stanza is larger than {_limits.MaxStanzaBytes} bytes."));
        }
        catch (XmlException) when (_input.Ended)
        {
            // A connection cut in the middle of the stream is not the peer's malformed XML.
            return new StanzaRead(null, new XmppError("xmpp-connection-closed", "The peer closed the connection without ending its stream."));
        }
        catch (XmlException exception)
        {
            return new StanzaRead(null, new XmppError("xmpp-not-well-formed", "The peer sent XML that is not well formed or not allowed (a DTD or an unknown entity).") { Cause = exception.Message });
        }
        catch (IOException exception)
        {
            return new StanzaRead(null, new XmppError("xmpp-connection-lost", "The connection to the peer was lost.") { Cause = exception.Message });
        }
    }

    private sealed class StanzaTooLargeException : Exception;

    // Counts what the XML reader pulls from the connection, in short reads, so a stanza's size is
    // bounded before the reader buffers it whole.
    private sealed class BudgetStream(Stream inner, int chunkBytes) : Stream
    {
        private long _remaining;

        public CancellationToken CancellationToken { get; set; }

        /// <summary>Whether the connection has ended (a read returned nothing).</summary>
        public bool Ended { get; private set; }

        public void StartBudget(long bytes) => _remaining = bytes;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_remaining < 0)
            {
                throw new StanzaTooLargeException();
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, CancellationToken);
            var read = await inner.ReadAsync(buffer[..Math.Min(buffer.Length, chunkBytes)], linked.Token);
            _remaining -= read;
            Ended |= read == 0 && !buffer.IsEmpty;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("The XMPP stream is read asynchronously.");

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
