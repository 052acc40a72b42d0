using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Welkin.Intercloud.Trust;
using Welkin.Intercloud.Xmpp;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// <c>welkin-server federation ca init|issue|revoke|crl</c>: runs the federation's certificate authority
/// offline, from its directory, without starting the web host. Exit code 0 when done, 1 when the authority
/// refuses or fails (a CA already there or missing, an unknown or revoked serial, a file that exists),
/// 2 when the arguments are wrong.
/// </summary>
public static class FederationCaCommand
{
    public const string Usage =
        "usage: welkin-server federation ca init --dir DIR [--algorithm ecdsa|rsa] [--name NAME]\n"
        + "       welkin-server federation ca issue --dir DIR --cloud NAME --xmpp ADDRESS --url URL --out DIR [--days N]\n"
        + "       welkin-server federation ca revoke --dir DIR --serial S [--reason R]\n"
        + "       welkin-server federation ca crl --dir DIR --out FILE [--days N]";

    public const string CloudCertificateFile = "cloud.pem";
    public const string CloudKeyFile = "cloud.key";
    public const string DefaultCaName = "Welkin federation CA";

    private static readonly string[] Verbs = ["init", "issue", "revoke", "crl"];
    private static readonly Dictionary<string, string[]> Required = new()
    {
        ["init"] = ["--dir"],
        ["issue"] = ["--dir", "--cloud", "--xmpp", "--url", "--out"],
        ["revoke"] = ["--dir", "--serial"],
        ["crl"] = ["--dir", "--out"],
    };

    private static readonly Dictionary<string, string[]> Optional = new()
    {
        ["init"] = ["--algorithm", "--name"],
        ["issue"] = ["--days"],
        ["revoke"] = ["--reason"],
        ["crl"] = ["--days"],
    };

    public static bool Matches(string[] args) => args is ["federation", "ca", ..];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TimeProvider clock)
    {
        var (verb, options, problem) = Parse(args);
        if (problem is not null)
        {
            await output.WriteLineAsync($"{problem}\n{Usage}");
            return ServerExitCodes.Usage;
        }
        try
        {
            return verb switch
            {
                "init" => await InitAsync(options, output, clock),
                "issue" => await IssueAsync(options, output, clock),
                "revoke" => await RevokeAsync(options, output, clock),
                _ => await CrlAsync(options, output, clock),
            };
        }
        catch (UsageException e)
        {
            await output.WriteLineAsync($"{e.Message}\n{Usage}");
            return ServerExitCodes.Usage;
        }
        catch (Exception e) when (e is FederationAuthorityException or IOException or UnauthorizedAccessException or CryptographicException or System.Text.Json.JsonException)
        {
            await output.WriteLineAsync($"federation ca {verb}: {e.Message}");
            return ServerExitCodes.Failed;
        }
    }

    private static async Task<int> InitAsync(Dictionary<string, string> options, TextWriter output, TimeProvider clock)
    {
        var algorithm = options.GetValueOrDefault("--algorithm", "ecdsa") switch
        {
            "ecdsa" => FederationKeyAlgorithm.Ecdsa,
            "rsa" => FederationKeyAlgorithm.Rsa,
            var other => throw new UsageException($"unknown algorithm '{other}' (ecdsa or rsa)"),
        };
        using var ca = FederationAuthority.Create(options["--dir"], options.GetValueOrDefault("--name", DefaultCaName), algorithm, clock);
        await output.WriteLineAsync($"federation CA '{ca.Certificate.GetNameInfo(X509NameType.SimpleName, false)}' created in {options["--dir"]}: "
            + $"{FederationAuthority.CertificateFile} (give it to every cloud), {FederationAuthority.KeyFile} (keep it here, owner-only)");
        return 0;
    }

    private static async Task<int> IssueAsync(Dictionary<string, string> options, TextWriter output, TimeProvider clock)
    {
        if (!Uri.TryCreate(options["--url"], UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http"))
        {
            throw new UsageException($"--url '{options["--url"]}' is not an absolute http(s) URL");
        }
        if (!XmppAddress.TryParse(options["--xmpp"], out var xmpp, out var invalid) || xmpp.Local is null || !xmpp.IsBare)
        {
            throw new UsageException($"--xmpp '{options["--xmpp"]}' is not a bare XMPP address (cloud@domain){(invalid is null ? "" : ": " + invalid)}");
        }
        var validity = Days(options, "--days");
        var outDir = options["--out"];
        using var ca = FederationAuthority.Open(options["--dir"], clock);
        Directory.CreateDirectory(outDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var file in new[] { CloudCertificateFile, CloudKeyFile, FederationAuthority.CertificateFile })
        {
            if (File.Exists(Path.Combine(outDir, file)))
            {
                throw new FederationAuthorityException($"{Path.Combine(outDir, file)} exists; choose another --out");
            }
        }
        var issued = ca.Issue(new CloudIdentity(options["--cloud"], xmpp.Bare, url), validity);
        FederationAuthority.WritePrivate(Path.Combine(outDir, CloudKeyFile), issued.PrivateKeyPem);
        FederationAuthority.WriteAtomically(Path.Combine(outDir, CloudCertificateFile), issued.CertificatePem);
        FederationAuthority.WriteAtomically(Path.Combine(outDir, FederationAuthority.CertificateFile), ca.Certificate.ExportCertificatePem() + "\n");
        await output.WriteLineAsync($"issued serial {issued.Issued.Serial} to '{issued.Issued.Cloud}' ({issued.Issued.XmppAddress}, {issued.Issued.ApiUrl}), "
            + $"valid until {issued.Issued.NotAfter:O}; written to {outDir}: {CloudCertificateFile}, {CloudKeyFile}, {FederationAuthority.CertificateFile}");
        return 0;
    }

    private static async Task<int> RevokeAsync(Dictionary<string, string> options, TextWriter output, TimeProvider clock)
    {
        var reason = X509RevocationReason.Unspecified;
        if (options.TryGetValue("--reason", out var text)
            && (!Enum.TryParse(text, ignoreCase: true, out reason) || !Enum.IsDefined(reason) || int.TryParse(text, out _)))
        {
            throw new UsageException($"unknown reason '{text}' ({string.Join(", ", Enum.GetNames<X509RevocationReason>())})");
        }
        using var ca = FederationAuthority.Open(options["--dir"], clock);
        var revoked = ca.Revoke(options["--serial"], reason);
        await output.WriteLineAsync($"revoked serial {revoked.Serial} ('{revoked.Cloud}') at {revoked.RevokedAt:O}: {reason}; publish a new CRL with 'federation ca crl'");
        return 0;
    }

    private static async Task<int> CrlAsync(Dictionary<string, string> options, TextWriter output, TimeProvider clock)
    {
        var validity = Days(options, "--days");
        using var ca = FederationAuthority.Open(options["--dir"], clock);
        FederationAuthority.WriteAtomically(options["--out"], ca.CreateCrl(validity));
        var revoked = ca.Issued.Count(c => c.RevokedAt is not null);
        await output.WriteLineAsync($"CRL with {revoked} revoked certificate(s) written to {options["--out"]}, "
            + $"next update {(clock.GetUtcNow() + (validity ?? FederationAuthority.DefaultCrlValidity)):O}");
        return 0;
    }

    private static TimeSpan? Days(Dictionary<string, string> options, string name) =>
        !options.TryGetValue(name, out var text) ? null
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var days) && days > 0 ? TimeSpan.FromDays(days)
        : throw new UsageException($"{name} must be a positive number of days");

    private static (string Verb, Dictionary<string, string> Options, string? Problem) Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || !Verbs.Contains(args[0]))
        {
            return ("", [], $"expected one of {string.Join(", ", Verbs)}");
        }
        var verb = args[0];
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Count; i += 2)
        {
            if (!Required[verb].Contains(args[i]) && !Optional[verb].Contains(args[i]) || i + 1 >= args.Count || options.ContainsKey(args[i]))
            {
                return (verb, options, $"unexpected argument '{args[i]}'");
            }
            options[args[i]] = args[i + 1];
        }
        var missing = Required[verb].FirstOrDefault(r => !options.ContainsKey(r));
        return missing is null ? (verb, options, null) : (verb, options, $"{missing} is required");
    }

    private sealed class UsageException(string message) : Exception(message);
}
