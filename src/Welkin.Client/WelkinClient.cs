namespace Welkin.Client;

/// <summary>
/// Typed client of a Welkin cloud's provider interface (<c>/api/v1</c>). The operations are grouped
/// by resource, as the API is: <see cref="Principals"/>, <see cref="Templates"/>, <see cref="Images"/>...
/// </summary>
/// <remarks>
/// <para>
/// The client is transport-agnostic: hand it any <see cref="HttpClient"/> (with the handler, proxy, TLS
/// and timeout policy the caller needs) and the endpoint of the cloud. One <see cref="HttpClient"/> may
/// serve many <see cref="WelkinClient"/> instances with different tokens: the token is attached to each
/// request, never to the shared client.
/// </para>
/// <para>
/// An error answer throws <see cref="WelkinApiException"/> with the parsed RFC 9457 problem; a transport
/// failure throws <see cref="HttpRequestException"/>; a success answer that cannot be read throws
/// <see cref="WelkinProtocolException"/>. Instances are thread-safe.
/// </para>
/// </remarks>
public sealed class WelkinClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>Creates a client that uses <paramref name="http"/>, which the caller keeps owning.</summary>
    /// <param name="http">The HTTP client to send requests with; its <see cref="HttpClient.BaseAddress"/> is ignored.</param>
    /// <param name="endpoint">The cloud's base URL, for example <c>https://cloud.example/</c> (the API lives under <c>api/v1</c> below it).</param>
    /// <param name="token">The API token to authenticate with, or null to call anonymously.</param>
    public WelkinClient(HttpClient http, Uri endpoint, string? token = null)
        : this(http, endpoint, token, ownsHttp: false)
    {
    }

    /// <summary>Creates a client with its own <see cref="HttpClient"/>, disposed with this client.</summary>
    /// <param name="endpoint">The cloud's base URL.</param>
    /// <param name="token">The API token to authenticate with, or null to call anonymously.</param>
    public WelkinClient(Uri endpoint, string? token = null)
        : this(new HttpClient(), endpoint, token, ownsHttp: true)
    {
    }

    private WelkinClient(HttpClient http, Uri endpoint, string? token, bool ownsHttp)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"'{endpoint}' is not an absolute http or https URL.", nameof(endpoint));
        }
        if (token is { Length: 0 })
        {
            throw new ArgumentException("The token is empty; pass null to call anonymously.", nameof(token));
        }
        _http = http;
        _ownsHttp = ownsHttp;
        Endpoint = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
        var connection = new ApiConnection(http, Endpoint, token);
        Auth = new AuthClient(connection);
        Roles = new RolesClient(connection);
        Principals = new PrincipalsClient(connection);
        Tokens = new TokensClient(connection);
        AccessKeys = new AccessKeysClient(connection);
        Accounts = new AccountsClient(connection);
        Audit = new AuditClient(connection);
        Fabric = new FabricClient(connection);
        Federation = new FederationClient(connection);
        Monitoring = new MonitoringClient(connection);
        Templates = new TemplatesClient(connection);
        Offerings = new OfferingsClient(connection);
        Catalog = new CatalogClient(connection);
        Images = new ImagesClient(connection);
        Ovf = new OvfClient(connection);
        MachinePackages = new MachinePackagesClient(connection);
        Uploads = new UploadsClient(connection);
        AccountImages = new AccountImagesClient(connection);
        Health = new HealthClient(connection);
        Contracts = new ContractsClient(connection);
        Jobs = new JobsClient(connection);
        Instances = new InstancesClient(connection);
        Machines = new MachinesClient(connection);
        Events = new EventsClient(connection);
        Volumes = new VolumesClient(connection);
        Vaults = new VaultsClient(connection);
        Networks = new NetworksClient(connection);
        Configuration = new ConfigurationClient(connection);
        Usage = new UsageClient(connection);
        Clock = new ClockClient(connection);
        Sla = new SlaClient(connection);
        Billing = new BillingClient(connection);
        IsAuthenticated = token is not null;
    }

    /// <summary>Metering: usage, its reconciliation with the event log, contract reports.</summary>
    public UsageClient Usage { get; }

    /// <summary>The retention vault: vaults, retention classes, records, holds and destruction certificates.</summary>
    public VaultsClient Vaults { get; }

    /// <summary>The cloud's base URL, always ending with a slash.</summary>
    public Uri Endpoint { get; }

    /// <summary>Whether requests carry a token.</summary>
    public bool IsAuthenticated { get; }

    /// <summary>Login with a password, and who-am-I.</summary>
    public AuthClient Auth { get; }

    /// <summary>The roles of the Security Manager and their permissions.</summary>
    public RolesClient Roles { get; }

    /// <summary>Principals (people and services) of the provider and of accounts.</summary>
    public PrincipalsClient Principals { get; }

    /// <summary>API tokens of principals.</summary>
    public TokensClient Tokens { get; }

    /// <summary>S3 access keys of principals.</summary>
    public AccessKeysClient AccessKeys { get; }

    /// <summary>Accounts (tenants): sign-up and limits.</summary>
    public AccountsClient Accounts { get; }

    /// <summary>The hash-chained audit log.</summary>
    public AuditClient Audit { get; }

    /// <summary>The compute fabric's hosts.</summary>
    public FabricClient Fabric { get; }

    /// <summary>The peer clouds of the federation.</summary>
    public FederationClient Federation { get; }

    /// <summary>The Service Monitor's measurements.</summary>
    public MonitoringClient Monitoring { get; }

    /// <summary>Service templates and their versions.</summary>
    public TemplatesClient Templates { get; }

    /// <summary>Offerings as the provider manages them.</summary>
    public OfferingsClient Offerings { get; }

    /// <summary>The public catalog of published offerings (anonymous access allowed).</summary>
    public CatalogClient Catalog { get; }

    /// <summary>Virtual disk images: streamed upload and ranged download.</summary>
    public ImagesClient Images { get; }

    /// <summary>OVF packages: template import from OVAs, OVA export of templates, machines and instances.</summary>
    public OvfClient Ovf { get; }

    /// <summary>Machines' packages kept for resumable, digest-checked downloads.</summary>
    public MachinePackagesClient MachinePackages { get; }

    /// <summary>Resumable, digest-verified uploads of the account.</summary>
    public UploadsClient Uploads { get; }

    /// <summary>The account's own images, made from its uploads.</summary>
    public AccountImagesClient AccountImages { get; }

    /// <summary>Liveness and readiness probes.</summary>
    public HealthClient Health { get; }

    /// <summary>Contracts, account quotas and closing an account.</summary>
    public ContractsClient Contracts { get; }

    /// <summary>Jobs of asynchronous operations.</summary>
    public JobsClient Jobs { get; }

    /// <summary>Service instances: provision, scale, terminate.</summary>
    public InstancesClient Instances { get; }

    /// <summary>Machines: actions, resize, console, metrics.</summary>
    public MachinesClient Machines { get; }

    /// <summary>The event log.</summary>
    public EventsClient Events { get; }

    /// <summary>Volumes from storage contracts: create, attach, detach, delete.</summary>
    public VolumesClient Volumes { get; }

    /// <summary>Tenant networks: create, connect and disconnect machines, delete.</summary>
    public NetworksClient Networks { get; }

    /// <summary>Configurable properties of machines and instances.</summary>
    public ConfigurationClient Configuration { get; }

    /// <summary>The server clock, and advancing it in simulation mode.</summary>
    public ClockClient Clock { get; }

    /// <summary>SLA reports of contracts and scaling policies of instances.</summary>
    public SlaClient Sla { get; }

    /// <summary>Invoices and contracts' price plan versions.</summary>
    public BillingClient Billing { get; }

    /// <summary>Returns a client for the same endpoint and <see cref="HttpClient"/> that authenticates with <paramref name="token"/>.</summary>
    /// <remarks>The new client does not own the HTTP client: keep this one alive while the other is in use.</remarks>
    public WelkinClient WithToken(string? token) => new(_http, Endpoint, token, ownsHttp: false);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
