using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// The federation certificate files this cloud was configured with (<c>Federation:CaCertificate</c>,
/// <c>Federation:Certificate</c>, <c>Federation:CertificateKey</c>, PEM as the federation authority issues them),
/// for the hypervisor's side of a live move between clouds. The QEMU driver copies them into a directory of the
/// machine's, readable by its owner only, for as long as the move lasts.
/// </summary>
public sealed class FederationMigrationCredentials(FederationOptions options) : IMigrationCredentials
{
    public Result<MigrationTls> For(string? peerName) =>
        new MigrationTls(Path.GetFullPath(options.CaCertificate!), Path.GetFullPath(options.Certificate!), Path.GetFullPath(options.CertificateKey!), peerName);

    public string? OwnName => Uri.TryCreate(options.Url, UriKind.Absolute, out var url) ? url.Host : null;
}
