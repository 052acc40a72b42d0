using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>S3 access keys (<c>/api/v1/principals/{id}/access-keys</c>, <c>/api/v1/access-keys/{id}</c>).</summary>
public sealed class AccessKeysClient
{
    private readonly ApiConnection _api;

    internal AccessKeysClient(ApiConnection api) => _api = api;

    /// <summary>The access keys of a principal (never their secrets).</summary>
    public Task<IReadOnlyList<AccessKeyView>> ListAsync(string principalId, CancellationToken ct = default) =>
        _api.GetAsync<IReadOnlyList<AccessKeyView>>(_api.Resolve($"api/v1/principals/{ApiConnection.Segment(principalId)}/access-keys"), ct);

    /// <summary>Creates an access key for a principal. The secret is in the answer and cannot be read again.</summary>
    public Task<IssuedAccessKey> CreateAsync(string principalId, CreateAccessKeyRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<IssuedAccessKey>(HttpMethod.Post, _api.Resolve($"api/v1/principals/{ApiConnection.Segment(principalId)}/access-keys"), request, ct);

    /// <summary>Revokes an access key; requests signed with it are refused from then on.</summary>
    public Task<AccessKeyView> RevokeAsync(string accessKeyId, CancellationToken ct = default) =>
        _api.SendJsonAsync<AccessKeyView>(HttpMethod.Delete, _api.Resolve("api/v1/access-keys/" + ApiConnection.Segment(accessKeyId)), null, ct);
}
