using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Xml.Linq;
using Welkin.Intercloud.Xmpp;

namespace Welkin.Intercloud.Tests.Xmpp;

/// <summary>
/// Just enough of an XMPP server to log a client in (STARTTLS, SCRAM-SHA-256, bind, no stream
/// management) and then misbehave as a test tells it to, on every connection it accepts.
/// </summary>
internal sealed class FakeXmppServer : IAsyncDisposable
{
    private const string Domain = "xmpp.test";
    private static readonly XNamespace Client = "jabber:client";
    private static readonly XNamespace Sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
    private static readonly XNamespace Bind = "urn:ietf:params:xml:ns:xmpp-bind";
    private static readonly XNamespace Tls = "urn:ietf:params:xml:ns:xmpp-tls";
    private static readonly XNamespace Sm = "urn:xmpp:sm:3";
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _certificate;
    private readonly Func<Stream, CancellationToken, Task> _misbehave;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly bool _streamManagement;
    private int _logins;

    /// <param name="misbehave">What the server does once a client is logged in; it may read what the client sends with <see cref="ReadTextAsync"/>.</param>
    /// <param name="streamManagement">Offers XEP-0198 and enables it, without ever acknowledging anything.</param>
    public FakeXmppServer(Func<Stream, CancellationToken, Task> misbehave, bool streamManagement = false)
    {
        _streamManagement = streamManagement;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + Domain, key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(Domain);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UnixEpoch.AddYears(50), DateTimeOffset.UnixEpoch.AddYears(100));
        _certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        _misbehave = misbehave;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>How many clients have logged in so far.</summary>
    public int Logins => Volatile.Read(ref _logins);

    /// <summary>Everything clients sent after logging in, per connection.</summary>
    public ConcurrentQueue<string> Received { get; } = new();

    public XmppClientOptions Options() => new()
    {
        Domain = Domain,
        Host = "127.0.0.1",
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port,
        Username = "alice",
        Password = "alice-secret",
        TrustAnchors = [X509CertificateLoader.LoadCertificate(_certificate.RawData)],
    };

    /// <summary>Reads what the client sends until it closes or <paramref name="cancellationToken"/> fires, recording it.</summary>
    public async Task ReadTextAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var text = new StringBuilder();
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                text.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away.
        }

        Received.Enqueue(text.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException)
        {
            // Stopped.
        }

        _stop.Dispose();
        _certificate.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var tcp = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = ServeAsync(tcp);
        }
    }

    private async Task ServeAsync(TcpClient tcp)
    {
        using var _ = tcp;
        try
        {
            var token = _stop.Token;
            var plain = tcp.GetStream();
            var reader = await OpenAsync(plain, new XElement(Tls + "starttls", new XElement(Tls + "required")), token);
            await ReadAsync(reader, Tls + "starttls", token);
            await WriteAsync(plain, new XElement(Tls + "proceed").ToString(SaveOptions.DisableFormatting), token);
            await using var tls = new SslStream(plain);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, token);
            reader = await OpenAsync(tls, new XElement(Sasl + "mechanisms", new XElement(Sasl + "mechanism", "SCRAM-SHA-256")), token);
            await AuthenticateAsync(tls, reader, token);
            reader = await OpenAsync(tls, new object?[] { new XElement(Bind + "bind"), _streamManagement ? new XElement(Sm + "sm") : null }, token);
            var bind = await ReadAsync(reader, Client + "iq", token);
            await WriteAsync(tls, new XElement(Client + "iq", new XAttribute("type", "result"), new XAttribute("id", bind.Attribute("id")!.Value),
                new XElement(Bind + "bind", new XElement(Bind + "jid", "alice@" + Domain + "/welkin"))).ToString(SaveOptions.DisableFormatting), token);
            if (_streamManagement)
            {
                await ReadAsync(reader, Sm + "enable", token);
                await WriteAsync(tls, new XElement(Sm + "enabled", new XAttribute("id", "fake"), new XAttribute("resume", "true")).ToString(SaveOptions.DisableFormatting), token);
            }

            Interlocked.Increment(ref _logins);
            await _misbehave(tls, token);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away, or the test ended.
        }
    }

    private static async Task<XmlStanzaReader> OpenAsync(Stream stream, object feature, CancellationToken token)
    {
        var reader = new XmlStanzaReader(stream, new XmppStreamLimits());
        var header = await reader.ReadHeaderAsync(token);
        if (header.Stanza is null)
        {
            throw new InvalidOperationException("No stream header: " + header.Error?.Detail);
        }

        await WriteAsync(stream, $"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='{Domain}' id='s1' version='1.0'>"
            + new XElement(XName.Get("features", XmlStanzaReader.StreamsNamespace), feature).ToString(SaveOptions.DisableFormatting), token);
        return reader;
    }

    private static async Task<XElement> ReadAsync(XmlStanzaReader reader, XName expected, CancellationToken token)
    {
        var read = await reader.ReadStanzaAsync(token);
        return read.Stanza?.Name == expected ? read.Stanza : throw new InvalidOperationException($"Expected {expected}, got {read.Stanza?.Name} {read.Error?.Detail}");
    }

    // RFC 5802 3: the server side of SCRAM-SHA-256, for the one password the fake knows.
    private static async Task AuthenticateAsync(Stream stream, XmlStanzaReader reader, CancellationToken token)
    {
        var clientFirst = Decode((await ReadAsync(reader, Sasl + "auth", token)).Value);
        var clientFirstBare = clientFirst[3..];
        var nonce = clientFirstBare.Split(',').Single(f => f.StartsWith("r=", StringComparison.Ordinal))[2..] + "fake";
        var salt = RandomNumberGenerator.GetBytes(16);
        var serverFirst = $"r={nonce},s={Convert.ToBase64String(salt)},i=4096";
        await WriteAsync(stream, new XElement(Sasl + "challenge", Encode(serverFirst)).ToString(SaveOptions.DisableFormatting), token);
        var clientFinal = Decode((await ReadAsync(reader, Sasl + "response", token)).Value);
        var withoutProof = clientFinal[..clientFinal.IndexOf(",p=", StringComparison.Ordinal)];
        var salted = Rfc2898DeriveBytes.Pbkdf2("alice-secret", salt, 4096, HashAlgorithmName.SHA256, 32);
        var serverKey = HMACSHA256.HashData(salted, Encoding.UTF8.GetBytes("Server Key"));
        var signature = HMACSHA256.HashData(serverKey, Encoding.UTF8.GetBytes($"{clientFirstBare},{serverFirst},{withoutProof}"));
        await WriteAsync(stream, new XElement(Sasl + "success", Encode("v=" + Convert.ToBase64String(signature))).ToString(SaveOptions.DisableFormatting), token);
    }

    private static string Encode(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string Decode(string base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64));

    public static async Task WriteAsync(Stream stream, string text, CancellationToken token)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), token);
        await stream.FlushAsync(token);
    }
}
