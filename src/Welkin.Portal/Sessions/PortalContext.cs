using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Portal.Sessions;

/// <summary>
/// The portal's view of one browser request: the session its cookie names, and API clients that act with the
/// person's own token on each cloud of the session. Pages never reach the cloud's internals, only these clients.
/// </summary>
public sealed class PortalContext(
    IHttpContextAccessor accessor, PortalSessions sessions, HomeCloud home, IHttpClientFactory http, IOptions<PortalOptions> options)
{
    internal const string HomeClient = "welkin-portal-home";
    internal const string PeerClient = "welkin-portal-peer";

    private bool _looked;
    private PortalSession? _session;

    private HttpContext Http => accessor.HttpContext ?? throw new InvalidOperationException("The portal runs inside a request.");

    /// <summary>The session's cookie: <c>__Host-</c> prefixed on TLS (no Domain, Path=/ and Secure then bind it to this origin).</summary>
    public string CookieName => Http.Request.IsHttps ? "__Host-welkin-portal" : "welkin-portal";

    /// <summary>
    /// The request's session. The portal's middleware loads it (<see cref="LoadAsync"/>) before any page or endpoint
    /// runs; a request it skipped (a static asset's path) reads it here, waiting for the store.
    /// </summary>
    public PortalSession? Session
    {
        get
        {
            if (!_looked)
            {
                LoadAsync(Http.RequestAborted).GetAwaiter().GetResult();
            }
            return _session;
        }
    }

    /// <summary>Reads the session the request's cookie names from the store, once per request.</summary>
    public async Task LoadAsync(CancellationToken ct)
    {
        if (_looked)
        {
            return;
        }
        _session = await sessions.FindAsync(Http.Request.Cookies[CookieName], ct);
        _looked = true;
    }

    public bool IsSignedIn => Session is not null;

    /// <summary>Anonymous calls to this cloud (catalog, sign-up).</summary>
    public WelkinClient Anonymous() => new(http.CreateClient(HomeClient), home.Endpoint);

    /// <summary>The person's client for the session's cloud named <paramref name="cloud"/> (this cloud when null).</summary>
    public WelkinClient Client(string? cloud = null)
    {
        var session = Session ?? throw new InvalidOperationException("Nobody is signed in.");
        var target = cloud is null ? session.Home : session.Find(cloud) ?? throw new InvalidOperationException($"The session has no cloud '{cloud}'.");
        return ClientFor(target);
    }

    public WelkinClient ClientFor(PortalCloud cloud) =>
        new(http.CreateClient(cloud.Name == HomeCloud.Name ? HomeClient : PeerClient), cloud.Endpoint, cloud.Token);

    /// <summary>The clouds a person may add beside this one (<see cref="PortalOptions.Clouds"/>).</summary>
    public IReadOnlyList<PortalCloudOption> OfferedClouds => options.Value.Clouds;

    /// <summary>Logs in to this cloud with a name and password and starts a session (ending any the browser had).</summary>
    public async Task SignInAsync(string name, string password, string? account, CancellationToken ct)
    {
        var login = await Anonymous().Auth.LoginAsync(new LoginRequest(name, password, string.IsNullOrWhiteSpace(account) ? null : account.Trim()), ct);
        await StartAsync(home.Endpoint, HomeCloud.Name, login.Token, ct);
    }

    /// <summary>Starts a session with an API token (operators' sign-in); the token is checked with who-am-I first.</summary>
    public async Task SignInWithTokenAsync(string token, CancellationToken ct)
    {
        var client = new WelkinClient(http.CreateClient(HomeClient), home.Endpoint, token);
        var me = await client.Auth.WhoAmIAsync(ct);
        await EndAsync(revoke: true, ct);
        // A pasted token belongs to its owner: signing out forgets it here but does not revoke it.
        await BeginAsync(Cloud(HomeCloud.Name, home.Endpoint, token, tokenId: "", me), ct);
    }

    /// <summary>Adds another cloud from <see cref="PortalOptions.Clouds"/> to the session, logging in there.</summary>
    public async Task AddCloudAsync(string name, string user, string password, string? account, CancellationToken ct)
    {
        var session = Session ?? throw new InvalidOperationException("Nobody is signed in.");
        var offered = OfferedClouds.FirstOrDefault(c => c.Name == name)
            ?? throw new WelkinApiException(new WelkinProblem(400, "unknown-cloud", "Unknown cloud", $"'{name}' is not a cloud this portal offers."));
        var endpoint = new Uri(offered.Endpoint);
        var login = await new WelkinClient(http.CreateClient(PeerClient), endpoint).Auth.LoginAsync(
            new LoginRequest(user, password, string.IsNullOrWhiteSpace(account) ? null : account.Trim()), ct);
        var client = new WelkinClient(http.CreateClient(PeerClient), endpoint, login.Token.Secret);
        var cloud = Cloud(name, endpoint, login.Token.Secret, login.Token.Id, await client.Auth.WhoAmIAsync(ct));
        session.Add(cloud);
        if (!await sessions.SaveAsync(session, ct))
        {
            // Signed out meanwhile (another tab): the new login must not outlive the session it was for.
            await RevokeAsync(cloud, ct);
            throw new WelkinApiException(new WelkinProblem(401, "signed-out", "Signed out", "The session ended; sign in again."));
        }
    }

    /// <summary>Removes a cloud (never this one) from the session and revokes the token the portal had there.</summary>
    public async Task RemoveCloudAsync(string name, CancellationToken ct)
    {
        if (Session is { } session && session.Remove(name) is { } removed)
        {
            await sessions.SaveAsync(session, ct);
            await RevokeAsync(removed, ct);
        }
    }

    /// <summary>Ends the session: its login tokens are revoked on every cloud and the cookie is cleared.</summary>
    public async Task EndAsync(bool revoke, CancellationToken ct)
    {
        if (Session is { } session)
        {
            await sessions.EndAsync(session, ct);
            if (revoke)
            {
                foreach (var cloud in session.Clouds)
                {
                    await RevokeAsync(cloud, ct);
                }
            }
            _session = null;
        }
        Http.Response.Cookies.Delete(CookieName, CookieOptions());
    }

    private async Task StartAsync(Uri endpoint, string name, IssuedToken token, CancellationToken ct)
    {
        var client = new WelkinClient(http.CreateClient(HomeClient), endpoint, token.Secret);
        var me = await client.Auth.WhoAmIAsync(ct);
        await EndAsync(revoke: true, ct);
        await BeginAsync(Cloud(name, endpoint, token.Secret, token.Id, me), ct);
    }

    private async Task BeginAsync(PortalCloud home, CancellationToken ct)
    {
        var (cookie, session) = await sessions.StartAsync(home, ct);
        _session = session;
        _looked = true;
        Http.Response.Cookies.Append(CookieName, cookie, CookieOptions());
    }

    private CookieOptions CookieOptions() => new()
    {
        HttpOnly = true,
        Secure = Http.Request.IsHttps,
        SameSite = SameSiteMode.Lax,
        Path = "/",
        IsEssential = true,
    };

    private async Task RevokeAsync(PortalCloud cloud, CancellationToken ct)
    {
        if (cloud.TokenId.Length == 0)
        {
            return;
        }
        try
        {
            await ClientFor(cloud).Tokens.RevokeAsync(cloud.TokenId, ct);
        }
        catch (Exception e) when (e is WelkinApiException or HttpRequestException or WelkinProtocolException)
        {
            // The token expires by itself (the login lifetime); the session is gone either way.
        }
    }

    private static PortalCloud Cloud(string name, Uri endpoint, string token, string tokenId, WhoAmI me) =>
        new(name, endpoint, token, tokenId, me.Principal.Id, me.Principal.Name, me.Principal.AccountId, me.AccountName, me.Permissions);
}
