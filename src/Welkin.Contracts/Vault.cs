using System.Text.Json.Serialization;

namespace Welkin.Contracts;

// Data artifacts of the retention vault (white paper 3.3, the data retention service): vaults cut
// from a storage line of a contract, retention classes named in SNIA CDMI's vocabulary (CDMI 2.0,
// 16.4 "Data system metadata": cdmi_retention_period, cdmi_retention_autodelete, cdmi_hold_id,
// cdmi_sanitization_method), write-once records and the certificates of their destruction.

/// <summary>How a record's retention binds (the two modes of S3 Object Lock).</summary>
public enum RetentionMode
{
    /// <summary>Shortened or removed only by a principal with the vault-retention-bypass permission, saying so.</summary>
    Governance,

    /// <summary>Neither shortened, removed nor switched to governance by anyone until it expires.</summary>
    Compliance,
}

public enum VaultState
{
    Active,

    /// <summary>Deleted when it held no stored record; its units went back to the contract line and the account.</summary>
    Deleted,
}

public enum VaultRecordState
{
    Stored,

    /// <summary>Its destruction has begun: the data key is being destroyed, the bytes deleted.</summary>
    Shredding,

    /// <summary>Destroyed: the data key and the bytes are gone; a destruction certificate says so.</summary>
    Shredded,
}

/// <summary>A retention vault: versioned, write-once storage of an account with a capacity drawn from a storage line.</summary>
/// <param name="ObjectLock">Whether records may carry retention (once on, it stays on).</param>
public sealed record VaultView(
    string Id,
    string AccountId,
    string ContractId,
    int Item,
    string Name,
    long CapacityGiB,
    long StoredBytes,
    long Records,
    bool ObjectLock,
    VaultState State,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset Updated);

/// <param name="CapacityGiB">A positive multiple of the storage line's increment.</param>
/// <param name="Item">The contract line (default: the first storage line).</param>
/// <param name="ObjectLock">Whether records may carry retention (default on).</param>
public sealed record CreateVaultRequest(string ContractId, long CapacityGiB, string? Name = null, int? Item = null, bool? ObjectLock = null);

/// <summary>A retention class of a vault: what a record written in it is retained for, and how.</summary>
/// <param name="RetentionPeriod">An ISO 8601 duration of years, months and days (P1Y, P7Y, P90D, P1Y6M).</param>
/// <param name="AutoDelete">Whether a record is destroyed as soon as its retention expires (and it holds no legal hold).</param>
/// <param name="SanitizationMethod">How a record is destroyed: cryptographic-erase (NIST SP 800-88: its data key is destroyed, its bytes deleted).</param>
public sealed record RetentionClassView(
    string VaultId,
    string Name,
    [property: JsonPropertyName("cdmi_retention_period")] string RetentionPeriod,
    RetentionMode Mode,
    [property: JsonPropertyName("cdmi_retention_autodelete")] bool AutoDelete,
    [property: JsonPropertyName("cdmi_sanitization_method")] string SanitizationMethod,
    DateTimeOffset Created);

public sealed record CreateRetentionClassRequest(
    string Name,
    [property: JsonPropertyName("cdmi_retention_period")] string RetentionPeriod,
    RetentionMode Mode,
    [property: JsonPropertyName("cdmi_retention_autodelete")] bool AutoDelete = false,
    [property: JsonPropertyName("cdmi_sanitization_method")] string? SanitizationMethod = null);

/// <summary>One write-once version of a key in a vault.</summary>
/// <param name="Id">The record id, which is also the version id of the key.</param>
/// <param name="Sha256">The SHA-256 of the content, in lower-case hex.</param>
/// <param name="HoldIds">The legal holds on the record (CDMI cdmi_hold_id).</param>
public sealed record VaultRecordView(
    string Id,
    string VaultId,
    string Key,
    string Sha256,
    long SizeBytes,
    string? ClassName,
    RetentionMode? Mode,
    DateTimeOffset? RetainUntil,
    [property: JsonPropertyName("cdmi_hold_id")] IReadOnlyList<string> HoldIds,
    VaultRecordState State,
    long Version,
    DateTimeOffset Created,
    DateTimeOffset? Shredded);

/// <summary>
/// A change of a record's retention. Lengthening is anyone's who may write the vault; shortening,
/// removing (both null) or switching to governance needs governance mode and <paramref name="BypassGovernance"/>
/// with the vault-retention-bypass permission; compliance retention cannot be shortened at all.
/// </summary>
public sealed record RecordRetentionRequest(RetentionMode? Mode = null, DateTimeOffset? RetainUntil = null, bool BypassGovernance = false, long? Version = null);

/// <summary>A destruction certificate: what was destroyed, when and how, signed by the cloud.</summary>
/// <param name="Certificate">The signed statement, canonical JSON (the exact bytes the signature covers).</param>
/// <param name="Signature">ECDSA P-256 SHA-256 over the UTF-8 bytes of <paramref name="Certificate"/>, base64 (IEEE P1363 form).</param>
/// <param name="KeyId">The cloud's signing key (its audit checkpoint key): the first 8 bytes of the SHA-256 of its SubjectPublicKeyInfo, hex.</param>
public sealed record DestructionCertificateView(string RecordId, string VaultId, string Certificate, string Signature, string KeyId, DateTimeOffset Issued);

/// <summary>The statement a destruction certificate signs.</summary>
public sealed record DestructionStatement(
    string Type,
    string Issuer,
    string RecordId,
    string VaultId,
    string AccountId,
    string Key,
    string Sha256,
    long SizeBytes,
    string? ClassName,
    RetentionMode? Mode,
    DateTimeOffset? RetainUntil,
    DateTimeOffset DestroyedAt,
    string Method,
    string Reason);

/// <summary>A tenant key rotation: how many data keys were rewrapped under the new tenant key version.</summary>
public sealed record VaultKeyRotationView(string AccountId, long KeyVersion, long Rewrapped);
