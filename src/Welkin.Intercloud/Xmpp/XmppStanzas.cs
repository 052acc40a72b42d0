using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Xml.Linq;

namespace Welkin.Intercloud.Xmpp;

/// <summary>
/// A presence stanza that arrived (RFC 6121): availability when <see cref="Type"/> is null, else
/// "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe" or "error".
/// </summary>
public sealed record XmppPresence(string From, string? Type, XElement Stanza)
{
    /// <summary>The sender's bare address (localpart@domain), lower-cased as RFC 7622 compares it.</summary>
    public string BareFrom => XmppAddress.Bare(From);

    /// <summary>The first child element in <paramref name="name"/>'s namespace with that name, if any.</summary>
    public XElement? Payload(XName name) => Stanza.Element(name);
}

/// <summary>An IQ get or set addressed to this client, for a handler of its payload.</summary>
public sealed record XmppIqRequest(string From, string Type, XElement Payload);

/// <summary>What an IQ handler answers: a result (with an optional payload) or a stanza error (RFC 6120 8.3).</summary>
public sealed record XmppIqAnswer(XElement? Payload, string? ErrorType, string? Condition, string? Text)
{
    public bool IsError => Condition is not null;

    /// <summary>RFC 6120 8.3.2: an application-specific condition element sent beside the defined one.</summary>
    public XElement? ApplicationCondition { get; init; }

    public static XmppIqAnswer Result(XElement? payload = null) => new(payload, null, null, null);

    /// <param name="type">RFC 6120 8.3.2: cancel, continue, modify, auth or wait.</param>
    /// <param name="condition">An RFC 6120 8.3.3 condition, e.g. bad-request, forbidden, item-not-found.</param>
    public static XmppIqAnswer Error(string type, string condition, string? text = null) => new(null, type, condition, text);
}

/// <summary>Answers IQ requests whose payload element has the name it is registered under.</summary>
public delegate Task<XmppIqAnswer> XmppIqHandler(XmppIqRequest request, CancellationToken cancellationToken);

/// <summary>RFC 7622 addresses, as far as Welkin compares them.</summary>
public static class XmppAddress
{
    /// <summary>RFC 7622 3.1: each part is at most 1023 octets of UTF-8.</summary>
    public const int MaxPartOctets = 1023;

    /// <summary>localpart@domain of a full or bare address, lower-cased (Welkin's addresses are ASCII).</summary>
    public static string Bare(string address)
    {
        var slash = address.IndexOf('/', StringComparison.Ordinal);
        return (slash < 0 ? address : address[..slash]).ToLowerInvariant();
    }

    /// <summary>
    /// Parses localpart@domainpart/resourcepart (RFC 7622 3.1; localpart and resourcepart optional).
    /// The localpart takes ASCII without spaces, controls and <c>" &amp; ' / : &lt; &gt; @</c>, and
    /// beyond ASCII letters, marks and digits only (a subset of PRECIS IdentifierClass; no
    /// Unicode normalization, so a compatibility letter such as U+FB01 is taken as it is); the domainpart is an ASCII DNS name or an IP literal (an internationalized
    /// domain must be given in its xn-- form); the resourcepart takes any character but controls, and
    /// neither begins nor ends with a space.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out XmppJid? jid, [NotNullWhen(false)] out string? error)
    {
        jid = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "the address is empty";
            return false;
        }
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var resource = slash < 0 ? null : text[(slash + 1)..];
        var rest = slash < 0 ? text : text[..slash];
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        var local = at < 0 ? null : rest[..at];
        var domain = at < 0 ? rest : rest[(at + 1)..];
        // RFC 7622 3.2: a trailing dot of the domainpart is removed before anything else.
        if (domain.EndsWith('.'))
        {
            domain = domain[..^1];
        }
        error = (local is null ? null : LocalpartError(local)) ?? DomainpartError(domain) ?? (resource is null ? null : ResourcepartError(resource));
        if (error is not null)
        {
            return false;
        }
        jid = new XmppJid(local is null ? null : AsciiLower(local), AsciiLower(domain), resource);
        return true;
    }

    private static string? LocalpartError(string local)
    {
        if (PartLengthError(local, "localpart") is { } length)
        {
            return length;
        }
        if (HasUnpairedSurrogate(local))
        {
            return "the localpart is not valid Unicode";
        }
        foreach (var c in local)
        {
            if (c < 0x80 ? c <= 0x20 || c == 0x7F || "\"&'/:<>@".Contains(c, StringComparison.Ordinal) : !IsIdentifierLetter(c))
            {
                return $"the localpart may not contain {Describe(c)}";
            }
        }
        return null;
    }

    private static bool IsIdentifierLetter(char c) =>
        char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
            or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
            or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.DecimalDigitNumber;

    private static string? DomainpartError(string domain)
    {
        if (PartLengthError(domain, "domainpart") is { } length)
        {
            return length;
        }
        if (domain.StartsWith('['))
        {
            return domain.EndsWith(']') && IPAddress.TryParse(domain[1..^1], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
                ? null
                : "the domainpart is not a valid IPv6 literal";
        }
        if (domain.Any(c => c >= 0x80))
        {
            return "the domainpart is not ASCII: give an internationalized domain name in its xn-- (A-label) form";
        }
        if (domain.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            return domain.Split('.').Length == 4 && IPAddress.TryParse(domain, out var v4) && v4.AddressFamily == AddressFamily.InterNetwork
                ? null
                : "the domainpart is not a valid IPv4 address";
        }
        if (domain.Length > 253)
        {
            return "the domainpart is longer than a DNS name may be (253 characters)";
        }
        foreach (var label in domain.Split('.'))
        {
            if (label.Length is 0 or > 63 || label.StartsWith('-') || label.EndsWith('-') || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return $"the domainpart is not a DNS name (label '{label}')";
            }
        }
        return null;
    }

    private static string? ResourcepartError(string resource)
    {
        if (PartLengthError(resource, "resourcepart") is { } length)
        {
            return length;
        }
        if (HasUnpairedSurrogate(resource))
        {
            return "the resourcepart is not valid Unicode";
        }
        if (char.IsWhiteSpace(resource[0]) || char.IsWhiteSpace(resource[^1]))
        {
            return "the resourcepart may not begin or end with a space (RFC 7622 3.5)";
        }
        foreach (var c in resource)
        {
            if (char.IsControl(c))
            {
                return $"the resourcepart may not contain {Describe(c)}";
            }
        }
        return null;
    }

    private static string? PartLengthError(string part, string name)
    {
        if (part.Length == 0)
        {
            return $"the {name} is empty";
        }
        return Encoding.UTF8.GetByteCount(part) > MaxPartOctets ? $"the {name} is longer than {MaxPartOctets} octets" : null;
    }

    private static bool HasUnpairedSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }
        return false;
    }

    private static string Describe(char c) => char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}'";

    // RFC 7622 compares localpart and domainpart without case; Welkin folds ASCII only.
    private static string AsciiLower(string text) => string.Create(text.Length, text, (span, s) =>
    {
        for (var i = 0; i < s.Length; i++)
        {
            span[i] = char.IsAsciiLetterUpper(s[i]) ? (char)(s[i] | 0x20) : s[i];
        }
    });
}

/// <summary>
/// A valid RFC 7622 address from <see cref="XmppAddress.TryParse"/>: localpart and domainpart
/// ASCII lower-cased, so that records compare as RFC 7622 says; the resourcepart exactly as given.
/// </summary>
public sealed record XmppJid(string? Local, string Domain, string? Resource)
{
    /// <summary>localpart@domainpart (or the domainpart alone).</summary>
    public string Bare => Local is null ? Domain : $"{Local}@{Domain}";

    public bool IsBare => Resource is null;

    public override string ToString() => Resource is null ? Bare : $"{Bare}/{Resource}";
}
