namespace Welkin.Portal.Sessions;

/// <summary>
/// What the portal holds for one signed-in person: the clouds they signed in to, each with the token the
/// API issued. It lives on the server only; the browser holds a random id for it in an HttpOnly cookie.
/// </summary>
public sealed class PortalSession(string key, DateTimeOffset created)
{
    private readonly Lock _gate = new();
    private readonly List<PortalCloud> _clouds = [];

    /// <summary>SHA-256 of the cookie's value: a copy of the store cannot be replayed as a cookie.</summary>
    internal string Key { get; } = key;

    public DateTimeOffset Created { get; } = created;

    /// <summary>When the session was last used, as the store knows it (written at most once a minute).</summary>
    public DateTimeOffset LastSeen { get; internal set; } = created;

    /// <summary>The clouds of this session; the first is the cloud serving the portal.</summary>
    public IReadOnlyList<PortalCloud> Clouds
    {
        get
        {
            lock (_gate)
            {
                return [.. _clouds];
            }
        }
    }

    public PortalCloud Home => Clouds[0];

    public PortalCloud? Find(string name) => Clouds.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.Ordinal));

    internal void Add(PortalCloud cloud)
    {
        lock (_gate)
        {
            _clouds.RemoveAll(c => c.Name == cloud.Name);
            _clouds.Add(cloud);
        }
    }

    internal PortalCloud? Remove(string name)
    {
        lock (_gate)
        {
            var cloud = _clouds.Skip(1).FirstOrDefault(c => c.Name == name);
            if (cloud is not null)
            {
                _clouds.Remove(cloud);
            }
            return cloud;
        }
    }
}

/// <summary>One cloud of a session: where it is, who the person is there and the token that says so.</summary>
public sealed record PortalCloud(
    string Name,
    Uri Endpoint,
    string Token,
    string TokenId,
    string PrincipalId,
    string PrincipalName,
    string? AccountId,
    string? AccountName,
    IReadOnlyList<string> Permissions)
{
    public bool IsProvider => AccountId is null;

    public bool Can(string permission) => Permissions.Contains(permission, StringComparer.Ordinal);

    /// <summary>The token never appears in logs or exception messages through this record.</summary>
    public override string ToString() => $"{Name} ({Endpoint}) as {PrincipalName}";
}
