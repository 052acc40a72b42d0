using System.Net;

namespace Welkin.Server.S3;

/// <summary>The S3 face (section "S3"): where it listens and the region clients sign for.</summary>
public sealed class S3Options
{
    /// <summary>
    /// The S3 listener's address and port (e.g. 127.0.0.1:9000); unset, there is no S3 face. S3 clients
    /// expect buckets at the root of their endpoint (path-style: /bucket/key, ListBuckets at /), so the
    /// face has a listener of its own rather than a path under the API.
    /// </summary>
    public string? Listen { get; set; }

    /// <summary>The region in the credential scope of every signature (clients' --region); default us-east-1, S3's default.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Largest XML request body an S3 operation reads (bucket configurations, DeleteObjects).</summary>
    public long MaxXmlBodyBytes { get; set; } = 1024 * 1024;

    public bool Enabled => !string.IsNullOrWhiteSpace(Listen);

    public IPEndPoint Endpoint() =>
        IPEndPoint.TryParse(Listen!, out var endpoint) && endpoint.Port > 0
            ? endpoint
            : throw new ArgumentException($"S3:Listen '{Listen}' is not an IP address and port, e.g. 127.0.0.1:9000.");

    public void Validate()
    {
        if (Enabled)
        {
            Endpoint();
        }
        if (string.IsNullOrWhiteSpace(Region) || Region.Length > 32 || !Region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            throw new ArgumentException($"S3:Region '{Region}' must be 1-32 characters of a-z, 0-9 and '-'.");
        }
        if (MaxXmlBodyBytes < 1024)
        {
            throw new ArgumentException("S3:MaxXmlBodyBytes must be at least 1024.");
        }
    }
}
