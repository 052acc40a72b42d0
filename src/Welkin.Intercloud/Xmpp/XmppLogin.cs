using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Security;
using System.Text;
using System.Xml.Linq;
using static Welkin.Intercloud.Xmpp.XmppNames;

namespace Welkin.Intercloud.Xmpp;

/// <summary>An open, authenticated, bound (or resumed) stream, ready for stanzas.</summary>
internal sealed record XmppSession(TcpClient Tcp, SslStream Tls, XmlStanzaReader Reader, string Jid, ScramMechanism Mechanism)
{
    /// <summary>XEP-0198: the id to resume this session with; null when stream management is off or not resumable.</summary>
    public string? ResumeId { get; init; }

    public bool StreamManagement { get; init; }

    /// <summary>Set when the session is a resumed one: how many of our stanzas the server had handled.</summary>
    public long? ResumedAt { get; init; }

    /// <summary>Stanzas that arrived while stream management was being enabled, to be handled first.</summary>
    public IReadOnlyList<XElement> Early { get; init; } = [];
}

/// <summary>What a new stream needs to resume an old session (XEP-0198 5).</summary>
internal sealed record XmppResumption(string Id, string Jid, long InboundHandled, IReadOnlyList<(long Sequence, XElement Stanza)> Unacknowledged);

// RFC 6120 5-7: TCP, stream features, mandatory STARTTLS, SASL (SCRAM only), stream restarts, resource
// binding; XEP-0198: resumption instead of binding when a previous session allows it, else enabling it.
internal sealed class XmppLogin(XmppClientOptions options, XmppResumption? resumption = null)
{
    private Stream _transport = Stream.Null;
    private ScramMechanism _mechanism;

    public async Task<(XmppSession? Session, XmppError? Error)> RunAsync(CancellationToken cancellationToken)
    {
        // Stanzas are small and answered at once: Nagle's algorithm would hold a stanza back until the
        // previous one's ACK, which the peer delays, and add about 40 ms to each round trip.
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            var (session, error) = await LoginAsync(tcp, cancellationToken);
            if (session is null)
            {
                tcp.Dispose();
            }

            return (session, error);
        }
        catch (Exception exception) when (exception is SocketException or IOException)
        {
            tcp.Dispose();
            return (null, new XmppError("xmpp-connection-failed", $"Could not talk to the XMPP server of '{options.Domain}'.") { Cause = exception.Message });
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            tcp.Dispose();
            return (null, new XmppError("xmpp-timeout", $"The XMPP server of '{options.Domain}' did not answer in time."));
        }
    }

    private async Task<(XmppSession?, XmppError?)> LoginAsync(TcpClient tcp, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        var token = timeout.Token;
        await tcp.ConnectAsync(options.Host ?? options.Domain, options.Port, token);
        _transport = tcp.GetStream();

        var (reader, features, error) = await OpenStreamAsync(null, token);
        if (error is not null)
        {
            return (null, error);
        }

        if (features!.Element(Tls + "starttls") is null)
        {
            return (null, new XmppError("xmpp-tls-unavailable", "The XMPP server does not offer STARTTLS; Welkin never logs in without TLS."));
        }

        await SendAsync(new XElement(Tls + "starttls"), token);
        var proceed = await reader!.ReadStanzaAsync(token);
        if (proceed.Stanza?.Name != Tls + "proceed")
        {
            return (null, proceed.Error ?? XmppError.Protocol("The XMPP server refused STARTTLS."));
        }

        var tls = new SslStream(_transport, leaveInnerStreamOpen: false);
        error = await StartTlsAsync(tls, token);
        if (error is not null)
        {
            return (null, error);
        }

        (reader, features, error) = await OpenStreamAsync(reader, token);
        error ??= await AuthenticateAsync(reader!, features!, token);
        if (error is not null)
        {
            return (null, error);
        }

        (reader, features, error) = await OpenStreamAsync(reader, token);
        if (error is not null)
        {
            return (null, error);
        }

        var offersSm = features!.Element(Sm + "sm") is not null;
        if (offersSm && resumption is not null)
        {
            await SendAsync(new XElement(Sm + "resume", new XAttribute("previd", resumption.Id), new XAttribute("h", resumption.InboundHandled)), token);
            var resumed = await reader!.ReadStanzaAsync(token);
            if (resumed.Stanza?.Name == Sm + "resumed" && long.TryParse(resumed.Stanza.Attribute("h")?.Value, out var handled))
            {
                return (new XmppSession(tcp, tls, reader, resumption.Jid, _mechanism) { ResumeId = resumption.Id, StreamManagement = true, ResumedAt = handled }, null);
            }

            if (resumed.Stanza?.Name != Sm + "failed")
            {
                return (null, resumed.Error ?? XmppError.Protocol("The XMPP server answered the resumption out of turn."));
            }

            // XEP-0198 5: after a failed resumption the client may bind a new session on the same stream.
        }

        var (jid, bindError) = await BindAsync(reader!, token);
        if (bindError is not null)
        {
            return (null, bindError);
        }

        var session = new XmppSession(tcp, tls, reader!, jid!, _mechanism);
        return offersSm ? (await EnableStreamManagementAsync(session, token), null) : (session, null);
    }

    private async Task<XmppSession> EnableStreamManagementAsync(XmppSession session, CancellationToken token)
    {
        await SendAsync(new XElement(Sm + "enable", new XAttribute("resume", "true")), token);
        var early = new List<XElement>();
        while (early.Count < 64)
        {
            var read = await session.Reader.ReadStanzaAsync(token);
            if (read.Stanza is null)
            {
                throw new IOException("The XMPP stream ended while stream management was being enabled: " + read.Error?.Detail);
            }

            if (read.Stanza.Name == Sm + "enabled")
            {
                var resumable = read.Stanza.Attribute("resume")?.Value is "true" or "1";
                return session with { StreamManagement = true, ResumeId = resumable ? read.Stanza.Attribute("id")?.Value : null, Early = early };
            }

            if (read.Stanza.Name == Sm + "failed")
            {
                return session with { Early = early };
            }

            early.Add(read.Stanza);
        }

        return session with { Early = early };
    }

    private async Task<XmppError?> StartTlsAsync(SslStream tls, CancellationToken token)
    {
        var authentication = new SslClientAuthenticationOptions
        {
            TargetHost = options.Domain,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) => IsTrusted(certificate, chain, errors),
        };
        try
        {
            await tls.AuthenticateAsClientAsync(authentication, token);
        }
        catch (AuthenticationException exception)
        {
            return new XmppError("xmpp-tls-untrusted", $"The certificate of the XMPP server of '{options.Domain}' is not trusted for that name.") { Cause = exception.Message };
        }

        _transport = tls;
        return null;
    }

    private bool IsTrusted(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is not X509Certificate2 leaf || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)
            || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(options.TrustAnchors);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(leaf);
    }

    private async Task<XmppError?> AuthenticateAsync(XmlStanzaReader reader, XElement features, CancellationToken token)
    {
        var offered = features.Element(Sasl + "mechanisms")?.Elements(Sasl + "mechanism").Select(m => m.Value) ?? [];
        if (ScramClient.Strongest(offered) is not { } mechanism)
        {
            return new XmppError("xmpp-auth-unavailable", "The XMPP server offers neither SCRAM-SHA-256 nor SCRAM-SHA-1.");
        }

        _mechanism = mechanism;
        var scram = new ScramClient(mechanism, options.Username, options.Password);
        await SendAsync(new XElement(Sasl + "auth", new XAttribute("mechanism", ScramClient.NameOf(mechanism)), Base64(scram.ClientFirst())), token);
        var challenge = await reader.ReadStanzaAsync(token);
        if (challenge.Stanza?.Name != Sasl + "challenge")
        {
            return SaslFailure(challenge);
        }

        var (final, error) = scram.ClientFinal(FromBase64(challenge.Stanza.Value));
        if (final is null)
        {
            return error;
        }

        await SendAsync(new XElement(Sasl + "response", Base64(final)), token);
        var outcome = await reader.ReadStanzaAsync(token);
        if (outcome.Stanza?.Name == Sasl + "challenge")
        {
            // RFC 6120 6.4.6 allows the server's final message in a last challenge instead of in <success/>.
            var verified = scram.VerifyServerFinal(FromBase64(outcome.Stanza.Value));
            await SendAsync(new XElement(Sasl + "response"), token);
            outcome = await reader.ReadStanzaAsync(token);
            return outcome.Stanza?.Name == Sasl + "success" ? verified : SaslFailure(outcome);
        }

        return outcome.Stanza?.Name == Sasl + "success" ? scram.VerifyServerFinal(FromBase64(outcome.Stanza.Value)) : SaslFailure(outcome);
    }

    private XmppError SaslFailure(StanzaRead read)
    {
        if (read.Stanza?.Name == Sasl + "failure")
        {
            var condition = read.Stanza.Elements().FirstOrDefault(e => e.Name.Namespace == Sasl)?.Name.LocalName ?? "not-authorized";
            return new XmppError("xmpp-auth-failed", $"The XMPP server of '{options.Domain}' refused the login of '{options.Username}' ({condition}).");
        }

        return read.Error ?? XmppError.Protocol("The XMPP server answered the SASL exchange out of turn.");
    }

    private async Task<(string?, XmppError?)> BindAsync(XmlStanzaReader reader, CancellationToken token)
    {
        var bind = new XElement(Client + "iq", new XAttribute("type", "set"), new XAttribute("id", "bind-1"),
            new XElement(Bind + "bind", new XElement(Bind + "resource", options.Resource)));
        await SendAsync(bind, token);
        var answer = await reader.ReadStanzaAsync(token);
        var jid = answer.Stanza?.Attribute("type")?.Value == "result" ? answer.Stanza.Element(Bind + "bind")?.Element(Bind + "jid")?.Value : null;
        return jid is null ? (null, answer.Error ?? XmppError.Protocol("The XMPP server did not bind a resource.")) : (jid, null);
    }

    private async Task<(XmlStanzaReader?, XElement?, XmppError?)> OpenStreamAsync(XmlStanzaReader? previous, CancellationToken token)
    {
        previous?.Dispose();
        await SendRawAsync(StreamHeader(options.Domain), token);
        var reader = new XmlStanzaReader(_transport, options.Limits);
        var header = await reader.ReadHeaderAsync(token);
        var features = header.Error is null ? await reader.ReadStanzaAsync(token) : header;
        if (features.Stanza?.Name != Streams + "features")
        {
            reader.Dispose();
            return (null, null, features.Error ?? XmppError.Protocol("The XMPP server sent no stream features."));
        }

        return (reader, features.Stanza, null);
    }

    internal static string StreamHeader(string domain) =>
        $"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{Streams}' to='{SecurityElement.Escape(domain)}' version='1.0' xml:lang='en'>";

    private Task SendAsync(XElement element, CancellationToken token) => SendRawAsync(element.ToString(SaveOptions.DisableFormatting), token);

    private async Task SendRawAsync(string xml, CancellationToken token)
    {
        await _transport.WriteAsync(Encoding.UTF8.GetBytes(xml), token);
        await _transport.FlushAsync(token);
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string FromBase64(string text)
    {
        var bytes = new byte[text.Length];
        return Convert.TryFromBase64String(text.Trim(), bytes, out var written) ? Encoding.UTF8.GetString(bytes, 0, written) : "";
    }
}
