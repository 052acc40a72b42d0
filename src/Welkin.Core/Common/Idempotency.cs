using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Welkin.Core.Data;

namespace Welkin.Core.Common;

public sealed class IdempotencyOptions
{
    /// <summary>How long a key's first answer is kept: a retry after that creates again.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>A creating request that carries an <c>Idempotency-Key</c>: whose it is, to which route, which key.</summary>
public sealed record IdempotencyClaim(string PrincipalId, string Route, string Key);

/// <summary>
/// The first answer to a key: the fingerprint of the request that produced it (a SHA-256 over its
/// canonical form) and the status, <c>Location</c> and JSON body the caller was (or would have been) given.
/// </summary>
public sealed record IdempotentAnswer(string RequestHash, int Status, string? Location, string Body);

/// <summary>
/// The answers of creating requests under their <c>Idempotency-Key</c> (the idempotency_keys
/// table). An answer is written in the transaction that creates the resource, so no crash can
/// leave a resource without it: a retry either finds the answer or finds nothing created.
/// </summary>
/// <remarks>
/// Bodies are encrypted (AES-256-GCM) with a key derived from the Idempotency-Key itself, which
/// only the caller knows (the table holds its SHA-256): an answer can carry a secret shown once
/// (an API token), and the table must not become a second copy of it.
/// </remarks>
public sealed class IdempotencyKeys(IDatabase db, TimeProvider clock, IdempotencyOptions options)
{
    public const int MaxKeyLength = 255;

    public static Error InProgress() =>
        new("idempotency-key-in-progress", ErrorKind.Conflict, "A request with this Idempotency-Key is in progress; retry once it has been answered.");

    /// <summary>RFC 9110 field value rules, narrowed: 1-255 printable ASCII characters.</summary>
    public static bool IsValidKey(string key) =>
        key.Length is > 0 and <= MaxKeyLength && key.All(c => c is >= ' ' and <= '~') && key.Trim().Length == key.Length;

    /// <summary>A write that records its answer under <paramref name="claim"/> in the creating transaction.</summary>
    public IdempotentWrite<T> For<T>(IdempotencyClaim claim, Func<T, IdempotentAnswer> answer) => new(this, claim, answer);

    /// <summary>The answer kept for <paramref name="claim"/>, or null when there is none (or it has expired).</summary>
    public async Task<IdempotentAnswer?> FindAsync(IdempotencyClaim claim, CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<IdempotencyRow>(
            "SELECT request_hash AS RequestHash, status AS Status, location AS Location, body AS Body FROM idempotency_keys "
            + "WHERE principal_id = @PrincipalId AND route = @Route AND key_hash = @KeyHash AND expires_at > @Now",
            new { claim.PrincipalId, claim.Route, KeyHash = KeyHash(claim.Key), Now = clock.GetUtcNow().ToUnixTimeMilliseconds() }, ct);
        return row is null ? null : new IdempotentAnswer(row.RequestHash, (int)row.Status, row.Location, Decrypt(claim, row.Body));
    }

    /// <summary>
    /// Records <paramref name="answer"/> in the caller's transaction. When the key already has an
    /// answer (a concurrent request with the same key committed first, perhaps on another replica),
    /// the error rolls the whole creation back.
    /// </summary>
    public async Task<Error?> RecordAsync(Tx tx, IdempotencyClaim claim, IdempotentAnswer answer)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var keyHash = KeyHash(claim.Key);
        await tx.ExecuteAsync(
            "DELETE FROM idempotency_keys WHERE principal_id = @PrincipalId AND route = @Route AND key_hash = @KeyHash AND expires_at <= @Now",
            new { claim.PrincipalId, claim.Route, KeyHash = keyHash, Now = now });
        var inserted = await tx.ExecuteAsync(
            "INSERT INTO idempotency_keys (principal_id, route, key_hash, request_hash, status, location, body, created_at, expires_at) "
            + "VALUES (@PrincipalId, @Route, @KeyHash, @RequestHash, @Status, @Location, @Body, @Now, @ExpiresAt) "
            + "ON CONFLICT (principal_id, route, key_hash) DO NOTHING",
            new
            {
                claim.PrincipalId, claim.Route, KeyHash = keyHash, answer.RequestHash, Status = (long)answer.Status, answer.Location,
                Body = Encrypt(claim, answer.Body), Now = now, ExpiresAt = now + (long)options.Retention.TotalMilliseconds,
            });
        return inserted == 0 ? InProgress() : null;
    }

    /// <summary>Deletes the answers whose retention has passed; returns how many.</summary>
    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken ct)
    {
        var swept = await db.WriteAsync<int>(async tx => await tx.ExecuteAsync(
            "DELETE FROM idempotency_keys WHERE expires_at <= @Now", new { Now = now.ToUnixTimeMilliseconds() }), ct);
        return swept.Value;
    }

    private static string KeyHash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static byte[] BodyKey(IdempotencyClaim claim) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(claim.Key), 32,
            Encoding.UTF8.GetBytes(claim.PrincipalId), Encoding.UTF8.GetBytes("welkin idempotent answer " + claim.Route));

    private static string Encrypt(IdempotencyClaim claim, string body)
    {
        var plain = Encoding.UTF8.GetBytes(body);
        var sealedBytes = new byte[NonceSize + TagSize + plain.Length];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(BodyKey(claim), TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize));
        return Convert.ToBase64String(sealedBytes);
    }

    private static string Decrypt(IdempotencyClaim claim, string stored)
    {
        var sealedBytes = Convert.FromBase64String(stored);
        var plain = new byte[sealedBytes.Length - NonceSize - TagSize];
        using var aes = new AesGcm(BodyKey(claim), TagSize);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), plain);
        return Encoding.UTF8.GetString(plain);
    }

    private const int NonceSize = 12;
    private const int TagSize = 16;

    private sealed record IdempotencyRow(string RequestHash, long Status, string? Location, string Body);
}

/// <summary>
/// Handed to a creating operation by its endpoint when the request carries an <c>Idempotency-Key</c>:
/// the operation calls <see cref="RecordAsync"/> last in the transaction that creates the resource.
/// </summary>
public sealed class IdempotentWrite<T>(IdempotencyKeys keys, IdempotencyClaim claim, Func<T, IdempotentAnswer> answer)
{
    public Task<Error?> RecordAsync(Tx tx, T created) => keys.RecordAsync(tx, claim, answer(created));
}

/// <summary>Deletes the answers of idempotency keys past their retention.</summary>
public sealed class IdempotencySweeper(IdempotencyKeys keys, IdempotencyOptions options, ILogger<IdempotencySweeper> logger) : IPeriodicWork
{
    public string Name => "idempotency.sweep";

    public TimeSpan Interval => options.SweepInterval;

    public async Task RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        var swept = await keys.SweepAsync(now, ct);
        if (swept > 0)
        {
            logger.LogInformation("Swept {Count} expired idempotency keys at {Tick}", swept, now);
        }
    }
}

public static class IdempotencyServiceCollectionExtensions
{
    public static IServiceCollection AddIdempotency(this IServiceCollection services, IdempotencyOptions? options = null)
    {
        services.AddSingleton(options ?? new IdempotencyOptions());
        services.AddSingleton<IdempotencyKeys>();
        services.AddPeriodicWork<IdempotencySweeper>();
        return services;
    }
}
