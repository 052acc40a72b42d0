using System.Text;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

public sealed class XmlStanzaReaderTests
{
    private const string Header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='xmpp.test' version='1.0'>";
    private const string Stanzas = "<message to='a@xmpp.test' id='m1'><body>caf\u00e9 &amp; tea</body></message>"
        + "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq><presence/>";
    private static readonly XNamespace Client = "jabber:client";

    [Fact]
    public async Task ReadStanzaAsync_SplitAtEveryByteBoundary_YieldsTheSameStanzas()
    {
        var bytes = Encoding.UTF8.GetBytes(Header + Stanzas + "</stream:stream>");
        for (var split = 1; split < bytes.Length; split++)
        {
            var stanzas = await ReadAllAsync(new ChunkedStream(bytes, split, bytes.Length - split));

            AssertTheThreeStanzas(stanzas);
        }
    }

    [Fact]
    public async Task ReadStanzaAsync_OneByteAtATime_YieldsTheSameStanzas()
    {
        var bytes = Encoding.UTF8.GetBytes(Header + Stanzas + "</stream:stream>");

        AssertTheThreeStanzas(await ReadAllAsync(new ChunkedStream(bytes, Enumerable.Repeat(1, bytes.Length).ToArray())));
    }

    [Fact]
    public async Task ReadStanzaAsync_SeveralStanzasInOneRead_YieldsEachInTurn()
    {
        var bytes = Encoding.UTF8.GetBytes(Header + Stanzas + "</stream:stream>");

        AssertTheThreeStanzas(await ReadAllAsync(new ChunkedStream(bytes, bytes.Length)));
    }

    [Fact]
    public async Task ReadHeaderAsync_WhenADtdDeclaresAnEntity_IsRefused()
    {
        var hostile = "<?xml version='1.0'?><!DOCTYPE s [<!ENTITY lol 'lol'>]>" + Header[21..] + "<message><body>&lol;</body></message>";
        using var reader = new XmlStanzaReader(new MemoryStream(Encoding.UTF8.GetBytes(hostile)), new XmppStreamLimits());

        var read = await reader.ReadHeaderAsync(TestContext.Current.CancellationToken);

        Assert.Equal("xmpp-not-well-formed", read.Error?.Code);
    }

    [Fact]
    public async Task ReadStanzaAsync_WhenAnUndeclaredEntityIsUsed_IsRefused()
    {
        var read = await ReadFirstStanzaAsync(Header + "<message><body>&xxe;</body></message>", new XmppStreamLimits());

        Assert.Equal("xmpp-not-well-formed", read.Error?.Code);
    }

    [Fact]
    public async Task ReadStanzaAsync_WhenNestedTooDeep_IsRefused()
    {
        var deep = string.Concat(Enumerable.Repeat("<x>", 40)) + string.Concat(Enumerable.Repeat("</x>", 40));

        var refused = await ReadFirstStanzaAsync(Header + "<message>" + deep + "</message>", new XmppStreamLimits { MaxDepth = 32 });
        var accepted = await ReadFirstStanzaAsync(Header + "<message>" + deep + "</message>", new XmppStreamLimits { MaxDepth = 64 });

        Assert.Equal("xmpp-policy-violation", refused.Error?.Code);
        Assert.NotNull(accepted.Stanza);
    }

    [Fact]
    public async Task ReadStanzaAsync_WhenAStanzaIsOversized_IsRefused()
    {
        var limits = new XmppStreamLimits { MaxStanzaBytes = 16 * 1024, ReadChunkBytes = 1024 };
        var body = new string('a', 64 * 1024);

        var refused = await ReadFirstStanzaAsync(Header + "<message><body>" + body + "</body></message>", limits);
        var accepted = await ReadFirstStanzaAsync(Header + "<message><body>" + body[..8192] + "</body></message>", limits);

        Assert.Equal("xmpp-policy-violation", refused.Error?.Code);
        Assert.Equal(8192, accepted.Stanza?.Element(Client + "body")?.Value.Length);
    }

    [Fact]
    public async Task ReadHeaderAsync_WhenTheRootIsNotAStream_IsRefused()
    {
        using var reader = new XmlStanzaReader(new MemoryStream("<html>"u8.ToArray()), new XmppStreamLimits());

        Assert.Equal("xmpp-protocol", (await reader.ReadHeaderAsync(TestContext.Current.CancellationToken)).Error?.Code);
    }

    private static async Task<StanzaRead> ReadFirstStanzaAsync(string xml, XmppStreamLimits limits)
    {
        using var reader = new XmlStanzaReader(new MemoryStream(Encoding.UTF8.GetBytes(xml)), limits);
        var header = await reader.ReadHeaderAsync(TestContext.Current.CancellationToken);
        Assert.Null(header.Error);
        return await reader.ReadStanzaAsync(TestContext.Current.CancellationToken);
    }

    private static async Task<List<XElement>> ReadAllAsync(Stream stream)
    {
        using var reader = new XmlStanzaReader(stream, new XmppStreamLimits());
        var header = await reader.ReadHeaderAsync(TestContext.Current.CancellationToken);
        Assert.Equal("s1", header.Stanza?.Attribute("id")?.Value);
        var stanzas = new List<XElement>();
        while (true)
        {
            var read = await reader.ReadStanzaAsync(TestContext.Current.CancellationToken);
            Assert.Null(read.Error);
            if (read.Closed)
            {
                return stanzas;
            }

            stanzas.Add(read.Stanza!);
        }
    }

    private static void AssertTheThreeStanzas(List<XElement> stanzas)
    {
        Assert.Equal(3, stanzas.Count);
        Assert.Equal(Client + "message", stanzas[0].Name);
        Assert.Equal("caf\u00e9 & tea", stanzas[0].Element(Client + "body")?.Value);
        Assert.Equal("p1", stanzas[1].Attribute("id")?.Value);
        Assert.NotNull(stanzas[1].Element(XName.Get("ping", "urn:xmpp:ping")));
        Assert.Equal(Client + "presence", stanzas[2].Name);
    }

    // Hands out the bytes in the given chunk sizes, as TCP reads might.
    private sealed class ChunkedStream(byte[] bytes, params int[] chunks) : Stream
    {
        private int _position;
        private int _chunk;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= bytes.Length)
            {
                return ValueTask.FromResult(0);
            }

            var size = Math.Min(buffer.Length, _chunk < chunks.Length ? chunks[_chunk] : bytes.Length - _position);
            bytes.AsMemory(_position, size).CopyTo(buffer);
            _position += size;
            if (_chunk < chunks.Length)
            {
                chunks[_chunk] -= size;
                if (chunks[_chunk] == 0)
                {
                    _chunk++;
                }
            }

            return ValueTask.FromResult(size);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => bytes.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
