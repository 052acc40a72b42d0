using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Data;
using Welkin.Persistence;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// <c>welkin-server audit verify --data-dir DIR</c>: checks the audit log offline, without starting
/// the web host or changing anything (no migration runs): its hash chain, against the signed
/// checkpoints with the public key alone, and each entry's seal when the signing key is readable.
/// Exit code 0 when the log is intact, 1 when it is not, 2 when the command, the database or the
/// checkpoints are unusable.
/// </summary>
public static class AuditVerifyCommand
{
    public const string Usage =
        "usage: welkin-server audit verify --data-dir DIR [--database sqlite|postgresql] [--connection-string CS]"
        + " [--checkpoints FILE] [--public-key FILE] [--signing-key FILE]";

    public static bool Matches(string[] args) => args is ["audit", "verify", ..];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, CancellationToken ct)
    {
        string? dataDir = null;
        string? checkpoints = null, publicKey = null, signingKey = null;
        var database = new DatabaseOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--data-dir" when value is not null:
                    dataDir = value;
                    i++;
                    break;
                case "--database" when value is not null:
                    database.Provider = value;
                    i++;
                    break;
                case "--connection-string" when value is not null:
                    database.ConnectionString = value;
                    i++;
                    break;
                case "--checkpoints" when value is not null:
                    checkpoints = value;
                    i++;
                    break;
                case "--public-key" when value is not null:
                    publicKey = value;
                    i++;
                    break;
                case "--signing-key" when value is not null:
                    signingKey = value;
                    i++;
                    break;
                default:
                    await output.WriteLineAsync($"unexpected argument '{args[i]}'\n{Usage}");
                    return 2;
            }
        }
        var sqlite = database.Provider.Equals("sqlite", StringComparison.OrdinalIgnoreCase);
        if (sqlite && dataDir is null)
        {
            await output.WriteLineAsync($"--data-dir is required\n{Usage}");
            return 2;
        }
        dataDir = Path.GetFullPath(dataDir ?? ".");
        var file = Path.Combine(dataDir, PersistenceServiceCollectionExtensions.SqliteFileName);
        // Opening a missing SQLite file would create an empty database; refuse instead.
        if (sqlite && !File.Exists(file))
        {
            await output.WriteLineAsync($"no Welkin database at {file}");
            return 2;
        }
        var anchors = await AnchorsAsync(dataDir, checkpoints, publicKey, signingKey, output);
        if (anchors is null)
        {
            return 2;
        }
        using var keys = new KeyHolder(anchors);
        var services = new ServiceCollection()
            .AddSingleton(TimeProvider.System)
            .AddSingleton<AuditLog>()
            .AddWelkinPersistence(database, dataDir);
        await using var provider = services.BuildServiceProvider();
        AuditVerification result;
        try
        {
            result = await provider.GetRequiredService<AuditLog>().VerifyAsync(provider.GetRequiredService<IDatabase>(), anchors, ct);
        }
        catch (System.Data.Common.DbException e)
        {
            await output.WriteLineAsync($"cannot read the audit log: {e.Message}");
            return 2;
        }
        var anchored = $"checked against {result.Checkpoints} checkpoints (last at entry {result.LastCheckpointSeq?.ToString(CultureInfo.InvariantCulture) ?? "none"}); "
            + (result.SealsChecked ? "entry seals checked" : "entry seals NOT checked (no signing key): an entry forged after the last checkpoint goes unnoticed");
        if (result.Valid)
        {
            await output.WriteLineAsync($"audit log valid: {result.Entries} entries, head hash {result.HeadHash}");
            await output.WriteLineAsync(anchored);
            return 0;
        }
        await output.WriteLineAsync($"audit log INVALID: first invalid entry {result.FirstInvalidSeq?.ToString(CultureInfo.InvariantCulture) ?? "-"}: {result.Problem} ({result.Entries} entries verified before it)");
        await output.WriteLineAsync(anchored);
        foreach (var finding in result.Findings)
        {
            await output.WriteLineAsync($"  {finding.Code}: {finding.Detail}");
        }
        return 1;
    }

    /// <summary>
    /// The checkpoint file and keys, by default where the server keeps them in the data directory.
    /// Null (after saying why) when checkpoints exist but no public key can check them.
    /// </summary>
    private static async Task<AuditAnchors?> AnchorsAsync(string dataDir, string? checkpointFile, string? publicKeyFile, string? signingKeyFile, TextWriter output)
    {
        signingKeyFile ??= Path.Combine(dataDir, AuditOptions.DefaultSigningKeyFile);
        publicKeyFile ??= AuditKey.PublicKeyFile(Path.Combine(dataDir, AuditOptions.DefaultSigningKeyFile));
        var file = new AuditCheckpointFile(checkpointFile ?? Path.Combine(dataDir, AuditOptions.DefaultCheckpointFile));
        try
        {
            var sealKey = File.Exists(signingKeyFile) ? AuditKey.Load(signingKeyFile) : null;
            var publicKey = File.Exists(publicKeyFile) ? AuditPublicKey.FromPem(await File.ReadAllTextAsync(publicKeyFile)) : null;
            publicKey ??= sealKey?.Public;
            var lines = file.ReadAll();
            if (publicKey is null)
            {
                if (lines.Count > 0)
                {
                    await output.WriteLineAsync($"no public key at {publicKeyFile} to check the checkpoints in {file.Path}");
                    return null;
                }
                await output.WriteLineAsync("no checkpoints and no key: only the hash chain is checked, which a rewrite of the whole database passes");
                return AuditAnchors.None;
            }
            return new AuditAnchors(publicKey, sealKey, lines);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            await output.WriteLineAsync($"cannot read the audit keys or checkpoints: {e.Message}");
            return null;
        }
    }

    private sealed class KeyHolder(AuditAnchors anchors) : IDisposable
    {
        public void Dispose()
        {
            anchors.SealKey?.Dispose();
            anchors.PublicKey?.Dispose();
        }
    }
}
