using System.Text.Json.Nodes;
using Welkin.Core.Compute;

namespace Welkin.Compute.Qemu;

/// <summary>
/// The x509 credentials of a live move between fabrics as QEMU takes them: a <c>tls-creds-x509</c>
/// object reading <c>ca-cert.pem</c> and <c>server-</c> or <c>client-cert.pem</c> and <c>-key.pem</c>
/// from a directory of their own (copies, readable by their owner only), created at run time with
/// <c>object-add</c>, with <c>verify-peer</c> on both ends.
/// </summary>
internal static class QemuMigrationTls
{
    public const string CredentialsId = "welkin-mig-tls";
    public const string AuthorizationId = "welkin-mig-authz";

    private static readonly UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Copies the PEM files into <paramref name="directory"/> under the names QEMU reads and adds the credentials object.</summary>
    public static async Task AddAsync(QmpClient qmp, MigrationTls tls, string directory, bool server, CancellationToken ct)
    {
        var endpoint = server ? "server" : "client";
        QemuFabric.DeleteDirectory(directory);
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Copy(tls.CaCertificatePath, Path.Combine(directory, "ca-cert.pem"));
        Copy(tls.CertificatePath, Path.Combine(directory, endpoint + "-cert.pem"));
        Copy(tls.PrivateKeyPath, Path.Combine(directory, endpoint + "-key.pem"));
        await QemuQmp.RunAsync(qmp, "object-add", new JsonObject
        {
            ["qom-type"] = "tls-creds-x509",
            ["id"] = CredentialsId,
            ["dir"] = directory,
            ["endpoint"] = endpoint,
            ["verify-peer"] = true,
        }, ct);
        // A server checks the client's chain with verify-peer; its subject is checked against an authorization list.
        if (server && tls.PeerName is { } subject)
        {
            await QemuQmp.RunAsync(qmp, "object-add", new JsonObject
            {
                ["qom-type"] = "authz-simple",
                ["id"] = AuthorizationId,
                ["identity"] = subject,
            }, ct);
        }
    }

    /// <summary>Removes the objects (ignoring ones that are not there) and the copies of the files.</summary>
    public static async Task RemoveAsync(QmpClient qmp, string directory)
    {
        await QemuQmp.TryAsync(qmp, "migrate-set-parameters", new JsonObject { ["tls-creds"] = "", ["tls-hostname"] = "", ["tls-authz"] = "" });
        await QemuQmp.TryAsync(qmp, "object-del", new JsonObject { ["id"] = AuthorizationId });
        await QemuQmp.TryAsync(qmp, "object-del", new JsonObject { ["id"] = CredentialsId });
        QemuFabric.DeleteDirectory(directory);
    }

    private static void Copy(string source, string destination)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = PrivateFile };
        using var input = File.OpenRead(source);
        using var output = new FileStream(destination, options);
        input.CopyTo(output);
    }
}

/// <summary>QMP commands whose refusal is a failure of the whole step (an <see cref="IOException"/> with QEMU's message).</summary>
internal static class QemuQmp
{
    public static async Task<System.Text.Json.JsonElement> RunAsync(QmpClient qmp, string command, JsonObject? arguments, CancellationToken ct)
    {
        var answer = await qmp.ExecuteAsync(command, arguments, ct);
        return answer.Succeeded ? answer.Return : throw new IOException($"QMP {command}: {answer.Error!.Description}");
    }

    /// <summary>A clean-up command: refusals and a closed connection are ignored.</summary>
    public static async Task TryAsync(QmpClient qmp, string command, JsonObject? arguments)
    {
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await qmp.ExecuteAsync(command, arguments, limit.Token);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException)
        {
            // QEMU is gone or stuck: there is nothing left to clean up in it.
        }
    }
}
