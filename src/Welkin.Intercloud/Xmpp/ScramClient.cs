using System.Security.Cryptography;
using System.Text;

namespace Welkin.Intercloud.Xmpp;

/// <summary>The SCRAM mechanisms Welkin speaks, strongest first.</summary>
public enum ScramMechanism
{
    ScramSha256,
    ScramSha1,
}

/// <summary>
/// The client side of one SCRAM exchange (RFC 5802; SHA-256 per RFC 7677), without channel binding:
/// client-first, client-final with the proof, then the server's signature checked.
/// </summary>
public sealed class ScramClient
{
    private const string Gs2Header = "n,,";
    private readonly ScramMechanism _mechanism;
    private readonly string _password;
    private readonly string _clientNonce;
    private readonly string _clientFirstBare;
    private byte[]? _expectedServerSignature;

    /// <param name="clientNonce">Only tests fix it; otherwise it comes from the CSPRNG.</param>
    public ScramClient(ScramMechanism mechanism, string username, string password, string? clientNonce = null)
    {
        _mechanism = mechanism;
        _password = password;
        _clientNonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        _clientFirstBare = $"n={EscapeSaslName(username)},r={_clientNonce}";
    }

    public static string NameOf(ScramMechanism mechanism) =>
        mechanism == ScramMechanism.ScramSha256 ? "SCRAM-SHA-256" : "SCRAM-SHA-1";

    /// <summary>The strongest SCRAM mechanism among those a server offers, or null when it offers none.</summary>
    public static ScramMechanism? Strongest(IEnumerable<string> offered)
    {
        var names = offered.ToHashSet(StringComparer.Ordinal);
        if (names.Contains("SCRAM-SHA-256"))
        {
            return ScramMechanism.ScramSha256;
        }

        return names.Contains("SCRAM-SHA-1") ? ScramMechanism.ScramSha1 : null;
    }

    // RFC 5802 5.1: ',' and '=' in a username are sent as "=2C" and "=3D".
    public static string EscapeSaslName(string name) => name.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);

    public string ClientFirst() => Gs2Header + _clientFirstBare;

    /// <summary>The client-final message answering the server-first one, or an error when that is malformed.</summary>
    public (string? Message, XmppError? Error) ClientFinal(string serverFirst)
    {
        var fields = ParseFields(serverFirst);
        if (fields.ContainsKey("m"))
        {
            return (null, XmppError.Protocol("The server asked for a SCRAM extension Welkin does not support."));
        }

        if (!fields.TryGetValue("r", out var nonce) || !fields.TryGetValue("s", out var saltText) || !fields.TryGetValue("i", out var iterationText))
        {
            return (null, XmppError.Protocol("The server's SCRAM challenge lacks its nonce, salt or iteration count."));
        }

        // RFC 5802 5.1: the server's nonce starts with the client's, so a replayed challenge is refused.
        if (!nonce.StartsWith(_clientNonce, StringComparison.Ordinal) || nonce.Length == _clientNonce.Length)
        {
            return (null, XmppError.Protocol("The server's SCRAM nonce does not extend the client's."));
        }

        if (!int.TryParse(iterationText, out var iterations) || iterations < 1 || !TryBase64(saltText, out var salt))
        {
            return (null, XmppError.Protocol("The server's SCRAM salt or iteration count is malformed."));
        }

        var hash = _mechanism == ScramMechanism.ScramSha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1;
        var hashLength = _mechanism == ScramMechanism.ScramSha256 ? 32 : 20;
        var saltedPassword = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(_password), salt, iterations, hash, hashLength);
        var clientKey = Hmac(saltedPassword, "Client Key");
        var storedKey = Hash(clientKey);
        var withoutProof = $"c={Convert.ToBase64String(Encoding.ASCII.GetBytes(Gs2Header))},r={nonce}";
        var authMessage = $"{_clientFirstBare},{serverFirst},{withoutProof}";
        var clientSignature = Hmac(storedKey, authMessage);
        var proof = new byte[clientKey.Length];
        for (var i = 0; i < proof.Length; i++)
        {
            proof[i] = (byte)(clientKey[i] ^ clientSignature[i]);
        }

        _expectedServerSignature = Hmac(Hmac(saltedPassword, "Server Key"), authMessage);
        return ($"{withoutProof},p={Convert.ToBase64String(proof)}", null);
    }

    /// <summary>Null when the server proved it knows the password; otherwise why it did not.</summary>
    public XmppError? VerifyServerFinal(string serverFinal)
    {
        var fields = ParseFields(serverFinal);
        if (fields.TryGetValue("e", out var serverError))
        {
            return new XmppError("xmpp-auth-failed", $"The server refused the SCRAM proof ({serverError}).");
        }

        if (_expectedServerSignature is null || !fields.TryGetValue("v", out var verifier) || !TryBase64(verifier, out var signature)
            || !CryptographicOperations.FixedTimeEquals(signature, _expectedServerSignature))
        {
            return new XmppError("xmpp-server-unverified", "The server's SCRAM signature does not match: it does not know the password.");
        }

        return null;
    }

    private byte[] Hmac(byte[] key, string text) => Hmac(key, Encoding.UTF8.GetBytes(text));

    // SHA-1 is what RFC 5802 prescribes for SCRAM-SHA-1; it is not used for anything else here.
#pragma warning disable CA5350
    private byte[] Hmac(byte[] key, byte[] data) =>
        _mechanism == ScramMechanism.ScramSha256 ? HMACSHA256.HashData(key, data) : HMACSHA1.HashData(key, data);

    private byte[] Hash(byte[] data) => _mechanism == ScramMechanism.ScramSha256 ? SHA256.HashData(data) : SHA1.HashData(data);
#pragma warning restore CA5350

    private static Dictionary<string, string> ParseFields(string message)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in message.Split(','))
        {
            if (part.Length >= 2 && part[1] == '=')
            {
                fields.TryAdd(part[..1], part[2..]);
            }
        }

        return fields;
    }

    private static bool TryBase64(string text, out byte[] bytes)
    {
        bytes = new byte[text.Length];
        if (Convert.TryFromBase64String(text, bytes, out var written))
        {
            bytes = bytes[..written];
            return true;
        }

        return false;
    }
}
