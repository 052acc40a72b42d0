using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>
/// Signed, expiring links that deliver a granted record's content to its regulator without a token
/// (docs/vault.md, "Regulator access"). A link is bound to its grant, its record and its expiry by an
/// HMAC-SHA-256 under a key this process draws at start and never stores: a restart ends every link
/// (the regulator asks for new ones), and nothing in the database or a backup can forge one. The grant
/// is read again on every fetch, so a revoked or expired grant ends its links at once.
/// </summary>
public sealed class VaultGrantLinks(IDatabase db, AuditLog audit, VaultGrants grants, RecordService records, TimeProvider clock) : IDisposable
{
    public const string Route = "/api/v1/vault-links";
    public const int DefaultLifetimeSeconds = 300;
    public const int MaxLifetimeSeconds = 3600;
    public const int MaxLinks = 100;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public async Task<Result<VaultGrantLinksView>> CreateAsync(Caller caller, string grantId, CreateVaultGrantLinksRequest request, CancellationToken ct)
    {
        if (!caller.IsProvider || !caller.Can(Permission.VaultGrantsReceive))
        {
            return Error.Forbidden($"Links of a vault grant are made by the regulator it names ({RolePermissions.Name(Permission.VaultGrantsReceive)}).");
        }
        var v = new Validator();
        v.Require(request.LifetimeSeconds is null or (>= 1 and <= MaxLifetimeSeconds), "lifetimeSeconds", $"lifetimeSeconds must be 1 to {MaxLifetimeSeconds}");
        v.Require(request.RecordIds is null || (request.RecordIds.Count <= MaxLinks && request.RecordIds.All(i => Ids.IsValid(i, Ids.VaultRecord))),
            "recordIds", $"recordIds must be at most {MaxLinks} record ids");
        if (v.ToError() is { } invalid)
        {
            return invalid;
        }
        var found = await grants.ActiveAsync(caller.PrincipalId, grantId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        var grant = found.Value;
        var named = request.RecordIds is { Count: > 0 } ids ? ids : null;
        var covered = await grants.RecordsAsync(grant, named, MaxLinks, ct);
        if (named?.FirstOrDefault(n => covered.All(r => r.Id != n)) is { } missing)
        {
            return Error.NotFound("Record", missing);
        }
        var now = clock.GetUtcNow();
        var expires = DateTimeOffset.FromUnixTimeSeconds(Math.Min(
            (now + TimeSpan.FromSeconds(request.LifetimeSeconds ?? DefaultLifetimeSeconds)).ToUnixTimeSeconds(), DbTime.FromDb(grant.ExpiresAt).ToUnixTimeSeconds()));
        var links = covered.Select(r => new VaultGrantLink(r.Id, r.Key, r.Sha256, r.SizeBytes, Url(grant.Id, r.Id, expires), expires)).ToList();
        await audit.AppendAsync(db, caller, new AuditEvent("vault.grant.links", grant.Id, AuditEvent.Success, grant.AccountId,
            string.Create(CultureInfo.InvariantCulture, $"records={links.Count} expires={expires:O}")), ct);
        return new VaultGrantLinksView(grant.Id, links);
    }

    /// <summary>
    /// The content a link delivers, read as its regulator (audited as vault.grant.read: who, which
    /// grant, which record). A link that is malformed, tampered with, expired, or whose grant has
    /// ended or no longer covers the record is refused alike (403), saying nothing of which.
    /// </summary>
    public async Task<Result<RecordContent>> OpenAsync(string grantId, string recordId, string? expires, string? signature, string correlationId, CancellationToken ct)
    {
        var refused = Error.Forbidden("The link is not valid: it was altered, has expired, or its grant has ended. Ask the grant's regulator for a new one.");
        if (!Ids.IsValid(grantId, Ids.VaultGrant) || !Ids.IsValid(recordId, Ids.VaultRecord)
            || !long.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var until) || signature is null
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(signature), Encoding.ASCII.GetBytes(Sign(grantId, recordId, until)))
            || until <= clock.GetUtcNow().ToUnixTimeSeconds())
        {
            return refused;
        }
        var grant = await grants.ByIdAsync(grantId, ct);
        if (grant is null)
        {
            return refused;
        }
        var found = await grants.ActiveAsync(grant.RegulatorId, grantId, ct);
        if (!found.IsSuccess || await grants.RecordsAsync(found.Value, [recordId], 1, ct) is not [var record])
        {
            return refused;
        }
        var regulator = Caller.For(grant.RegulatorId, grant.RegulatorId, null, [Role.Regulator], correlationId, null);
        return await records.OpenStoredAsync(regulator, record, "vault.grant.read", $"grant={grantId} vault={record.VaultId}", ct);
    }

    private string Url(string grantId, string recordId, DateTimeOffset expires)
    {
        var until = expires.ToUnixTimeSeconds();
        return string.Create(CultureInfo.InvariantCulture, $"{Route}/{grantId}/{recordId}?expires={until}&signature={Sign(grantId, recordId, until)}");
    }

    private string Sign(string grantId, string recordId, long until) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{grantId}\n{recordId}\n{until}"))));

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);
}
