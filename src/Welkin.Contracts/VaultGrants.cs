namespace Welkin.Contracts;

public enum VaultGrantState
{
    Active,
    Expired,
    Revoked,
}

/// <summary>
/// A time-bounded grant of a vault's records to a regulator: the records named, or every record whose
/// key starts with <see cref="KeyPrefix"/> (of <see cref="ClassName"/> when given). Given by the account,
/// or by the provider under the legal process <see cref="LegalBasis"/> names.
/// </summary>
public sealed record VaultGrantView(
    string Id,
    string AccountId,
    string VaultId,
    string RegulatorId,
    IReadOnlyList<string>? RecordIds,
    string? KeyPrefix,
    string? ClassName,
    string GrantedBy,
    bool ByProvider,
    string? LegalBasis,
    VaultGrantState State,
    DateTimeOffset Created,
    DateTimeOffset Expires,
    DateTimeOffset? Revoked);

/// <summary>Either <see cref="RecordIds"/> or a query (<see cref="KeyPrefix"/>, maybe <see cref="ClassName"/>); the provider must give <see cref="LegalBasis"/>.</summary>
public sealed record CreateVaultGrantRequest(
    string VaultId,
    string RegulatorId,
    DateTimeOffset Expires,
    IReadOnlyList<string>? RecordIds = null,
    string? KeyPrefix = null,
    string? ClassName = null,
    string? LegalBasis = null);

/// <summary>Links for the named records of the grant (all it covers when none are named), living <see cref="LifetimeSeconds"/> at most.</summary>
public sealed record CreateVaultGrantLinksRequest(IReadOnlyList<string>? RecordIds = null, int? LifetimeSeconds = null);

/// <summary>A signed link that fetches one record's content without a token until <see cref="Expires"/>.</summary>
public sealed record VaultGrantLink(string RecordId, string Key, string Sha256, long SizeBytes, string Url, DateTimeOffset Expires);

public sealed record VaultGrantLinksView(string GrantId, IReadOnlyList<VaultGrantLink> Links);
