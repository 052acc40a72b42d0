using Welkin.Intercloud.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

public sealed class XmppAddressTests
{
    // RFC 7622 3.5.1: every example of a valid address.
    [Theory]
    [InlineData("juliet@example.com", "juliet", "example.com", null)]
    [InlineData("juliet@example.com/foo", "juliet", "example.com", "foo")]
    [InlineData("juliet@example.com/foo bar", "juliet", "example.com", "foo bar")]
    [InlineData("juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar")]
    [InlineData("foo\\20bar@example.com", "foo\\20bar", "example.com", null)]
    [InlineData("fussball@example.com", "fussball", "example.com", null)]
    [InlineData("fußball@example.com", "fußball", "example.com", null)]
    [InlineData("π@example.com", "π", "example.com", null)]
    [InlineData("Σ@example.com/foo", "Σ", "example.com", "foo")]
    [InlineData("σ@example.com/foo", "σ", "example.com", "foo")]
    [InlineData("ς@example.com/foo", "ς", "example.com", "foo")]
    [InlineData("king@example.com/♚", "king", "example.com", "♚")]
    [InlineData("example.com", null, "example.com", null)]
    [InlineData("example.com/foobar", null, "example.com", "foobar")]
    [InlineData("a.example.com/b@example.net", null, "a.example.com", "b@example.net")]
    // Beyond the RFC's list: IP literals and the trailing dot of RFC 7622 3.2.
    [InlineData("cloud@127.0.0.1/welkin", "cloud", "127.0.0.1", "welkin")]
    [InlineData("cloud@[::1]", "cloud", "[::1]", null)]
    [InlineData("cloud@exchange.example.", "cloud", "exchange.example", null)]
    public void ValidAddresses_Parse_IntoTheirParts(string text, string? local, string domain, string? resource)
    {
        Assert.True(XmppAddress.TryParse(text, out var jid, out var error), error);

        Assert.Equal(new XmppJid(local, domain, resource), jid);
    }

    // RFC 7622 3.5.2: every example of an invalid address, then Welkin's own refusals.
    [Theory]
    [InlineData("\"juliet\"@example.com", "may not contain '\"'")]
    [InlineData("foo bar@example.com", "may not contain U+0020")]
    [InlineData("juliet@example.com/ foo", "may not begin or end with a space")]
    [InlineData("@example.com/", "the localpart is empty")]
    [InlineData("henryⅣ@example.com", "may not contain 'Ⅳ'")]
    [InlineData("♚@example.com", "may not contain '♚'")]
    [InlineData("juliet@", "the domainpart is empty")]
    [InlineData("/foobar", "the domainpart is empty")]
    [InlineData("juliet@example.com/", "the resourcepart is empty")]
    [InlineData("", "the address is empty")]
    [InlineData("a&b@example.com", "may not contain '&'")]
    [InlineData("a:b@example.com", "may not contain ':'")]
    [InlineData("a<b@example.com", "may not contain '<'")]
    [InlineData("a'b@example.com", "may not contain '''")]
    [InlineData("a@b@example.com", "the domainpart is not a DNS name (label 'b@example')")]
    [InlineData("a\tb@example.com", "may not contain U+0009")]
    [InlineData("juliet@example.com/a\u0007b", "may not contain U+0007")]
    [InlineData("juliet@exa mple.com", "is not a DNS name")]
    [InlineData("juliet@-example.com", "is not a DNS name")]
    [InlineData("juliet@example..com", "is not a DNS name")]
    [InlineData("juliet@exa_mple.com", "is not a DNS name")]
    [InlineData("juliet@bücher.example", "xn--")]
    [InlineData("juliet@300.1.1.1", "not a valid IPv4 address")]
    [InlineData("juliet@1.2.3", "not a valid IPv4 address")]
    [InlineData("juliet@[127.0.0.1]", "not a valid IPv6 literal")]
    [InlineData("juliet@[::1", "not a valid IPv6 literal")]
    public void InvalidAddresses_AreRefused_WithTheirReason(string text, string reason)
    {
        Assert.False(XmppAddress.TryParse(text, out var jid, out var error));

        Assert.Null(jid);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void EachPart_IsAtMost1023Octets_OfUtf8()
    {
        var longest = new string('a', 1023);
        var label = new string('a', 63);

        Assert.True(XmppAddress.TryParse($"{longest}@example.com/{longest}", out _, out _));
        Assert.False(XmppAddress.TryParse($"{longest}a@example.com", out _, out var local));
        Assert.Contains("localpart is longer than 1023 octets", local, StringComparison.Ordinal);
        // 512 two-octet characters are 1024 octets although only 512 characters.
        Assert.False(XmppAddress.TryParse($"juliet@example.com/{new string('é', 512)}", out _, out var resource));
        Assert.Contains("resourcepart is longer than 1023 octets", resource, StringComparison.Ordinal);
        Assert.False(XmppAddress.TryParse($"juliet@{label}a.example", out _, out var domain));
        Assert.Contains("is not a DNS name", domain, StringComparison.Ordinal);
    }

    [Fact]
    public void LocalpartAndDomainpart_CompareWithoutCase_TheResourcepartExactly()
    {
        Assert.True(XmppAddress.TryParse("Juliet@Example.COM/Balcony", out var upper, out _));
        Assert.True(XmppAddress.TryParse("juliet@example.com/Balcony", out var lower, out _));
        Assert.True(XmppAddress.TryParse("juliet@example.com/balcony", out var other, out _));

        Assert.Equal(lower, upper);
        Assert.Equal("juliet@example.com", upper.Bare);
        Assert.Equal("juliet@example.com/Balcony", upper.ToString());
        Assert.NotEqual(lower, other);
        Assert.False(upper.IsBare);
    }
}
