namespace Welkin.Contracts;

/// <summary>The body of <c>POST /api/v1/principals/{id}/access-keys</c>.</summary>
public sealed record CreateAccessKeyRequest(string? Name = null);

/// <summary>
/// An S3 access key as created: the secret access key appears here once and cannot be read through the
/// API again. <paramref name="Id"/> is the access key id S3 clients send (aws_access_key_id).
/// </summary>
public sealed record IssuedAccessKey(string Id, string Secret, string PrincipalId, string Name, DateTimeOffset Created);

/// <summary>An S3 access key without its secret.</summary>
public sealed record AccessKeyView(
    string Id,
    string PrincipalId,
    string Name,
    DateTimeOffset Created,
    DateTimeOffset? Revoked);
