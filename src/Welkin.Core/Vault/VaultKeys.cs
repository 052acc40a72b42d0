using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Welkin.Core.Common;
using Welkin.Core.Data;

namespace Welkin.Core.Vault;

/// <summary>
/// The key hierarchy of the vault (docs/vault.md, "Keys"): each record's data key is wrapped by its
/// account's tenant key, which is wrapped by the master key. Tenant keys live in the database (the
/// owner of <c>vault_tenant_keys</c>); wrapped data keys live in the key store, one small file per
/// record outside the database, so that destroying that file destroys the only copy of the data key
/// the cloud keeps: a copy of the database taken before, restored with the master key, holds no key
/// that opens the record. Rotating a tenant key rewraps the data key files; no record is rewritten.
/// </summary>
public sealed class VaultKeys(IDatabase db, IMasterKey master, VaultOptions options, TimeProvider clock)
{
    private const string Active = "active";

    // Key files are written and rewrapped under the account's lock, so a rotation never drops a
    // tenant key version that a key file written meanwhile still needs.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    private sealed record TenantKeyRow(string AccountId, long KeyVersion, string WrappedKey, string MasterKeyId, string State);

    /// <summary>What a key file holds: the tenant key version and the wrapped data key.</summary>
    private sealed record KeyFile(int Format, long TenantKeyVersion, string Wrapped);

    public static byte[] NewDataKey() => RandomNumberGenerator.GetBytes(32);

    /// <summary>Wraps <paramref name="dataKey"/> under the account's active tenant key and writes it durably to the record's key file.</summary>
    public async Task WriteDataKeyAsync(string accountId, string vaultId, string recordId, byte[] dataKey, CancellationToken ct)
    {
        var gate = _locks.GetOrAdd(accountId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            var (version, tenantKey) = await ActiveTenantKeyAsync(accountId, ct);
            await WriteKeyFileAsync(vaultId, recordId, version, KeyWrap.Seal(tenantKey, dataKey, DataKeyContext(recordId)), ct);
            CryptographicOperations.ZeroMemory(tenantKey);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The record's data key; an error when its key file is gone (destroyed) or does not open.</summary>
    public async Task<Result<byte[]>> ReadDataKeyAsync(string accountId, string vaultId, string recordId, CancellationToken ct)
    {
        var path = KeyPath(vaultId, recordId);
        if (!File.Exists(path))
        {
            return Destroyed(recordId);
        }
        KeyFile? file;
        try
        {
            file = JsonSerializer.Deserialize<KeyFile>(await File.ReadAllTextAsync(path, ct));
        }
        catch (Exception e) when (e is JsonException or FileNotFoundException)
        {
            return Destroyed(recordId);
        }
        if (file is null)
        {
            return Destroyed(recordId);
        }
        var tenantKey = await TenantKeyAsync(accountId, file.TenantKeyVersion, ct);
        var dataKey = tenantKey is null ? null : KeyWrap.Open(tenantKey, Convert.FromBase64String(file.Wrapped), DataKeyContext(recordId));
        if (tenantKey is not null)
        {
            CryptographicOperations.ZeroMemory(tenantKey);
        }
        return dataKey is null ? Destroyed(recordId) : dataKey;
    }

    /// <summary>
    /// Destroys the record's data key: its key file is overwritten with zeros, flushed and deleted
    /// (docs/vault.md says what this guarantees on which storage). Idempotent.
    /// </summary>
    public static void DestroyDataKey(VaultOptions options, string vaultId, string recordId)
    {
        var path = Path.Combine(options.KeyDirectory, vaultId, recordId + ".key");
        if (!File.Exists(path))
        {
            return;
        }
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None))
        {
            var zeros = new byte[stream.Length];
            stream.Write(zeros);
            stream.Flush(flushToDisk: true);
        }
        File.Delete(path);
        SyncDirectory(Path.GetDirectoryName(path)!);
    }

    public void DestroyDataKey(string vaultId, string recordId) => DestroyDataKey(options, vaultId, recordId);

    /// <summary>
    /// Makes a new tenant key version the account's active one, rewraps every data key file of the
    /// account's stored records under it, then deletes the older versions (none of which any key
    /// file needs any more). A rotation cut short is finished by the next.
    /// </summary>
    public async Task<(long Version, long Rewrapped)> RotateAsync(string accountId, IReadOnlyList<(string VaultId, string RecordId)> records, CancellationToken ct)
    {
        var gate = _locks.GetOrAdd(accountId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            var rows = await TenantKeysAsync(accountId, ct);
            var version = rows.Count == 0 ? 1 : rows.Max(r => r.KeyVersion) + 1;
            var newKey = RandomNumberGenerator.GetBytes(32);
            await InsertTenantKeyAsync(accountId, version, newKey, ct);
            long rewrapped = 0;
            foreach (var (vaultId, recordId) in records)
            {
                var dataKey = await ReadDataKeyAsync(accountId, vaultId, recordId, ct);
                if (!dataKey.IsSuccess)
                {
                    continue;
                }
                await WriteKeyFileAsync(vaultId, recordId, version, KeyWrap.Seal(newKey, dataKey.Value, DataKeyContext(recordId)), ct);
                CryptographicOperations.ZeroMemory(dataKey.Value);
                rewrapped++;
            }
            CryptographicOperations.ZeroMemory(newKey);
            await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
                "DELETE FROM vault_tenant_keys WHERE account_id = @AccountId AND key_version < @Version", new { AccountId = accountId, Version = version }), ct);
            return (version, rewrapped);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The account's tenant key versions (newest last), without the keys.</summary>
    public async Task<IReadOnlyList<long>> TenantKeyVersionsAsync(string accountId, CancellationToken ct) =>
        (await TenantKeysAsync(accountId, ct)).Select(r => r.KeyVersion).ToList();

    private string KeyPath(string vaultId, string recordId) => Path.Combine(options.KeyDirectory, vaultId, recordId + ".key");

    private async Task WriteKeyFileAsync(string vaultId, string recordId, long tenantVersion, byte[] wrapped, CancellationToken ct)
    {
        var path = KeyPath(vaultId, recordId);
        var dir = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(dir);
        var temp = path + ".tmp";
        var text = JsonSerializer.Serialize(new KeyFile(1, tenantVersion, Convert.ToBase64String(wrapped)));
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        await using (var stream = new FileStream(temp, fileOptions))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(text), ct);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        SyncDirectory(dir);
    }

    // A rename or a delete is durable once its directory is.
    internal static void SyncDirectory(string dir)
    {
        if (!OperatingSystem.IsWindows())
        {
            Catalog.Images.Posix.SyncDirectory(dir);
        }
    }

    private async Task<(long Version, byte[] Key)> ActiveTenantKeyAsync(string accountId, CancellationToken ct)
    {
        var rows = await TenantKeysAsync(accountId, ct);
        if (rows.Count == 0)
        {
            await InsertTenantKeyAsync(accountId, 1, RandomNumberGenerator.GetBytes(32), ct);
            rows = await TenantKeysAsync(accountId, ct);
        }
        var newest = rows[^1];
        return (newest.KeyVersion, Unwrap(newest));
    }

    private async Task<byte[]?> TenantKeyAsync(string accountId, long version, CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<TenantKeyRow>(
            "SELECT account_id AS AccountId, key_version AS KeyVersion, wrapped_key AS WrappedKey, master_key_id AS MasterKeyId, state AS State " +
            "FROM vault_tenant_keys WHERE account_id = @AccountId AND key_version = @Version", new { AccountId = accountId, Version = version }, ct);
        return row is null ? null : Unwrap(row);
    }

    private async Task<IReadOnlyList<TenantKeyRow>> TenantKeysAsync(string accountId, CancellationToken ct) =>
        await db.QueryAsync<TenantKeyRow>(
            "SELECT account_id AS AccountId, key_version AS KeyVersion, wrapped_key AS WrappedKey, master_key_id AS MasterKeyId, state AS State " +
            "FROM vault_tenant_keys WHERE account_id = @AccountId ORDER BY key_version", new { AccountId = accountId }, ct);

    private Task InsertTenantKeyAsync(string accountId, long version, byte[] key, CancellationToken ct) =>
        db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            """
            INSERT INTO vault_tenant_keys (account_id, key_version, wrapped_key, master_key_id, state, created_at)
            VALUES (@AccountId, @Version, @Wrapped, @MasterKeyId, @State, @Now) ON CONFLICT (account_id, key_version) DO NOTHING
            """,
            new
            {
                AccountId = accountId, Version = version, Wrapped = Convert.ToBase64String(master.Wrap(key, TenantKeyContext(accountId, version))),
                MasterKeyId = master.KeyId, State = Active, Now = clock.GetUtcNow().ToUnixTimeMilliseconds(),
            }), ct);

    private byte[] Unwrap(TenantKeyRow row) =>
        master.Unwrap(Convert.FromBase64String(row.WrappedKey), TenantKeyContext(row.AccountId, row.KeyVersion))
        ?? throw new CryptographicException($"Tenant key {row.KeyVersion} of account {row.AccountId} does not open with master key {master.KeyId}.");

    private static byte[] TenantKeyContext(string accountId, long version) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"welkin-vault-tenant-key/1|{accountId}|{version}"));

    private static byte[] DataKeyContext(string recordId) => Encoding.UTF8.GetBytes("welkin-vault-data-key/1|" + recordId);

    private static Error Destroyed(string recordId) =>
        new("record-key-destroyed", ErrorKind.Conflict, $"The data key of record '{recordId}' is destroyed; its content cannot be read.");
}
