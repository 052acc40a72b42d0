using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Welkin.Contracts;
using Welkin.Core;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Billing;
using Welkin.Core.Catalog;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Changes;
using Welkin.Core.Clock;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Configuration;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Instances;
using Welkin.Core.Jobs;
using Welkin.Core.Metering;
using Welkin.Core.Monitoring;
using Welkin.Core.Placement;
using Welkin.Core.Scaling;
using Welkin.Core.Security;
using Welkin.Core.Sla;
using Welkin.Core.Uploads;
using Welkin.Portal;
using Welkin.Core.Vault;
using Welkin.Persistence;

using Welkin.Server.Federation;
using Welkin.Server.S3;

namespace Welkin.Server.Infrastructure;

public static class ServerSetup
{
    public const string AdminTokenFile = "admin.token";

    /// <summary>The key that seals S3 secret access keys, in the data directory unless Security:AccessKeySealingKey names another file.</summary>
    public const string AccessKeySealingKeyFile = "access-keys.key";

    /// <summary>The host environment of Welkin's own tests: the only one where passwords may be hashed below <see cref="PasswordHasher.MinIterations"/>.</summary>
    public const string TestingEnvironment = "Testing";

    /// <summary>
    /// The content root is the server binary's folder, so appsettings.json beside it is read
    /// whatever the working directory; a host that names its own (--contentRoot, as the test host
    /// does) keeps it.
    /// </summary>
    public static WebApplicationOptions BuilderOptions(string[] args) => new()
    {
        Args = args,
        ContentRootPath = args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase)) ? null : AppContext.BaseDirectory,
    };

    public static WebApplicationBuilder AddWelkinConfiguration(this WebApplicationBuilder builder, string[] args)
    {
        var env = WelkinOptions.EnvironmentVariables
            .Select(kv => (kv.Value, Environment.GetEnvironmentVariable(kv.Key)))
            .Where(kv => kv.Item2 is not null)
            .ToDictionary(kv => kv.Value, kv => kv.Item2);
        builder.Configuration.AddInMemoryCollection(env);
        // Switches are mapped here rather than by AddCommandLine's switch mappings, which ignore case:
        // a host that passes its settings as arguments ("--Fabric=" for the Fabric section, as the
        // test host does) would otherwise set Welkin:Fabric through "--fabric".
        builder.Configuration.AddCommandLine(args.Select(MapSwitch).ToArray());
        // ASP.NET Core's own request lines ("Request starting GET http://host/path?query") carry the
        // query string, which may hold a credential; CorrelationAndLoggingMiddleware logs each
        // request without it instead. A rule added here outranks a configured one for this category.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        return builder;
    }

    private static string MapSwitch(string arg)
    {
        var equals = arg.IndexOf('=', StringComparison.Ordinal);
        var name = equals < 0 ? arg : arg[..equals];
        return WelkinOptions.CommandLineSwitches.TryGetValue(name, out var key) ? "--" + key + (equals < 0 ? "" : arg[equals..]) : arg;
    }

    public static WebApplicationBuilder AddWelkinServer(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Welkin").Get<WelkinOptions>() ?? new WelkinOptions();
        var dataDir = Path.GetFullPath(options.DataDir);
        builder.Services.Configure<WelkinOptions>(builder.Configuration.GetSection("Welkin"));
        builder.Services.PostConfigure<WelkinOptions>(o => o.DataDir = dataDir);

        // The portal's assets from the build output (a published server has them in wwwroot instead; then this finds nothing).
        builder.WebHost.UseStaticWebAssets();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Parse(options.Bind), options.Port);
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.AddServerHeader = false;
        });

        builder.Services.AddWelkinClock(options.Clock, options.ClockStart);
        builder.Services.AddWelkinPersistence(builder.Configuration.GetSection("Database").Get<DatabaseOptions>() ?? new DatabaseOptions(), dataDir);
        // Only these are read from the Security section; the other security options keep their built-in values.
        var security = new SecurityOptions
        {
            PasswordIterations = builder.Configuration.GetValue("Security:PasswordIterations", PasswordHasher.DefaultIterations),
            PasswordHashConcurrency = builder.Configuration.GetValue("Security:PasswordHashConcurrency", PasswordWork.DefaultConcurrency),
            PasswordHashQueueLimit = builder.Configuration.GetValue("Security:PasswordHashQueueLimit", PasswordWork.DefaultQueueLimit),
        };
        security.Validate(testing: builder.Environment.IsEnvironment(TestingEnvironment));
        if (builder.Configuration["Welkin:OpenSignUp"] is not null)
        {
            // Silently ignoring it would open sign-up on a cloud that had closed it.
            throw new ArgumentException("Welkin:OpenSignUp is replaced by Accounts:SignUp (open, approval or closed).");
        }
        var refusals = new Welkin.Core.Audit.RefusalAuditOptions();
        refusals.Window = builder.Configuration.GetValue("Security:RefusalAuditWindow", refusals.Window);
        if (refusals.Window <= TimeSpan.Zero)
        {
            throw new ArgumentException("Security:RefusalAuditWindow must be positive.");
        }
        var accounts = builder.Configuration.GetSection("Accounts").Get<AccountOptions>() ?? new AccountOptions();
        accounts.Validate();
        builder.Services.AddSecurityManager(security, refusals, accounts);
        builder.Services.AddAccessKeys(Path.Combine(dataDir, builder.Configuration["Security:AccessKeySealingKey"] ?? AccessKeySealingKeyFile));
        builder.Services.AddCredentialRateLimit(builder.Configuration);
        builder.Services.AddIdempotency(builder.Configuration.GetSection("Idempotency").Get<IdempotencyOptions>());
        builder.Services.AddSingleton<IdempotencyGate>();
        builder.Services.AddAuditCheckpoints(builder.Configuration.GetSection("Audit").Get<AuditOptions>() ?? new AuditOptions(), dataDir);
        builder.Services.AddServiceCatalog();
        // Wall time bounds a query, whatever clock the cloud runs on.
        builder.Services.AddSingleton(new Welkin.Intercloud.Rdf.SparqlEngine(Welkin.Intercloud.Rdf.SparqlLimits.Default, TimeProvider.System));
        builder.Services.AddSingleton<Welkin.Server.Federation.CatalogQuery>();
        builder.Services.AddJobs(builder.Configuration.GetSection("Jobs").Get<JobRunnerOptions>());
        builder.Services.AddContracts(builder.Configuration.GetSection("Contracts").Get<ContractOptions>());
        builder.Services.AddImages(new ImageOptions { BlobRoot = Path.Combine(dataDir, "blobs"), MaxBytes = options.MaxImageBytes });
        builder.Services.AddComputeFabric(builder.Configuration, dataDir);
        builder.Services.AddSingleton(new IncomingMachineOptions
        {
            Timeout = builder.Configuration.GetValue("IncomingMachines:Timeout", new IncomingMachineOptions().Timeout),
        });
        builder.Services.AddSingleton(new OutgoingMachineOptions
        {
            HandoverTimeout = builder.Configuration.GetValue("OutgoingMachines:HandoverTimeout", new OutgoingMachineOptions().HandoverTimeout),
        });
        var console = builder.Configuration.GetSection("Console").Get<ConsoleOptions>() ?? new ConsoleOptions();
        if (console.MaxPerMachine < 1 || console.IdleTimeout <= TimeSpan.Zero)
        {
            throw new StartupException(ServerExitCodes.Usage, "Console:MaxPerMachine must be at least 1 and Console:IdleTimeout positive.");
        }
        builder.Services.AddSingleton(console);
        builder.Services.AddServiceManager(builder.Configuration.GetSection("Placement").Get<PlacementOptions>());
        builder.Services.AddChangeManager();
        builder.Services.AddOvfPackages(new OvfPackageOptions { WorkDirectory = Path.Combine(dataDir, "ovf-work"), MaxPackageBytes = options.MaxImageBytes });
        builder.Services.AddMachinePackages(new MachinePackageOptions
        {
            Directory = Path.Combine(dataDir, "packages"),
            Expiry = builder.Configuration.GetValue("Packages:Expiry", TimeSpan.FromHours(24)),
        });
        var uploads = builder.Configuration.GetSection("Uploads");
        builder.Services.AddUploads(new UploadOptions
        {
            Directory = Path.Combine(dataDir, "uploads"),
            MaxBytes = options.MaxImageBytes,
            MaxPerAccount = uploads.GetValue("MaxPerAccount", 4),
            MaxBytesPerAccount = uploads.GetValue("MaxBytesPerAccount", 2 * options.MaxImageBytes),
            Expiry = uploads.GetValue("Expiry", TimeSpan.FromHours(24)),
            MaxImagesPerAccount = uploads.GetValue("MaxImagesPerAccount", 10),
        });
        builder.Services.AddConfigurationManager();
        AddVault(builder, dataDir, options);
        builder.Services.AddMetering(builder.Configuration.GetSection("Metering").Get<MeterOptions>());
        builder.Services.AddSlaManagement(builder.Configuration.GetSection("Sla").Get<SlaOptions>(), builder.Configuration.GetSection("Scaling").Get<ScalingOptions>());
        builder.Services.AddServiceMonitor(builder.Configuration.GetSection("Monitoring").Get<MonitoringOptions>());
        builder.Services.AddBilling(builder.Configuration.GetSection("Billing").Get<BillingOptions>());
        builder.Services.AddFederation(builder.Configuration);

        builder.Services.Configure<JsonOptions>(o => WelkinJson.Configure(o.SerializerOptions, strict: true));
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped(sp => TokenAuthenticationHandler.CallerOf(sp.GetRequiredService<IHttpContextAccessor>().HttpContext!));
        builder.Services.AddAuthentication(TokenAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        builder.Services.AddWelkinOpenApi();
        // Sessions follow the server's clock, except a simulated one (advancing it must sign nobody out).
        builder.Services.AddSingleton(sp => new Welkin.Portal.Sessions.PortalClock(
            sp.GetService<SimulationClock>() is null ? sp.GetRequiredService<TimeProvider>() : TimeProvider.System));
        builder.Services.AddWelkinPortal(builder.Configuration);
        builder.Services.AddSingleton<PortalSessionStore>();
        builder.Services.AddSingleton<Welkin.Portal.Sessions.IPortalSessionStore>(sp => sp.GetRequiredService<PortalSessionStore>());
        builder.Services.AddPeriodicWork<PortalSessionSweeper>();
        // Antiforgery tokens and portal sessions outlive a restart only with a key ring that does (docs/operations.md).
        PortalKeyRing.Add(builder.Services, builder.Configuration["Portal:KeyDirectory"] is { Length: > 0 } keys
            ? Path.GetFullPath(keys, dataDir)
            : Path.Combine(dataDir, PortalKeyRing.DefaultDirectory));
        return builder;
    }

    private static void AddVault(WebApplicationBuilder builder, string dataDir, WelkinOptions options)
    {
        var section = builder.Configuration.GetSection("Vault");
        builder.Services.AddRetentionVault(new VaultOptions
        {
            Directory = Path.Combine(dataDir, "vault"),
            MaxRecordBytes = section.GetValue("MaxRecordBytes", options.MaxImageBytes),
            ChunkBytes = section.GetValue("ChunkBytes", VaultCipher.DefaultChunkBytes),
            SweepInterval = section.GetValue("SweepInterval", TimeSpan.FromMinutes(5)),
            SweepBatch = section.GetValue("SweepBatch", 1000),
            UploadExpiry = section.GetValue("UploadExpiry", TimeSpan.FromDays(7)),
        });
        var keyFile = section["MasterKeyFile"] is { Length: > 0 } file ? Path.GetFullPath(file, dataDir) : Path.Combine(dataDir, FileMasterKey.DefaultFileName);
        // Read (or created) when first resolved, at start-up after the data directory exists (OpenMasterKey).
        builder.Services.AddSingleton<IMasterKey>(_ => FileMasterKey.LoadOrCreate(keyFile));
    }

    /// <summary>The vault's master key file: created on first start (mode 0600), refused when others may read or write it.</summary>
    private static void OpenMasterKey(WebApplication app)
    {
        try
        {
            if (app.Services.GetRequiredService<IMasterKey>() is FileMasterKey { Created: true } key)
            {
                Console.WriteLine($"Created the vault master key in {key.File} (mode 0600); back it up apart from the database.");
            }
        }
        catch (MasterKeyException e)
        {
            throw new StartupException(ServerExitCodes.DataDirectory, e.Message, e);
        }
    }

    public static WebApplication UseWelkinPipeline(this WebApplication app)
    {
        app.UseMiddleware<CorrelationAndLoggingMiddleware>();
        app.UseS3Face();
        app.UseExceptionHandler();
        app.UseStatusCodePages(async ctx =>
        {
            var http = ctx.HttpContext;
            if (http.Response.ContentLength is null && string.IsNullOrEmpty(http.Response.ContentType) && !await PortalSetup.TryWriteNotFoundAsync(http))
            {
                var (code, detail) = http.Response.StatusCode switch
                {
                    404 => ("not-found", $"No resource at {http.Request.Path.Value}."),
                    405 => ("method-not-allowed", $"{http.Request.Method} is not allowed on {http.Request.Path.Value}."),
                    415 => ("unsupported-media-type", "Send the body as application/json."),
                    413 => ("body-too-large", "The request body is larger than this server accepts."),
                    _ => ("http-" + http.Response.StatusCode, "The request failed."),
                };
                await Problems.WriteAsync(http, http.Response.StatusCode, code, detail);
            }
        });
        app.UseMiddleware<Welkin.Server.Endpoints.FederationRouting>();
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        app.UseRateLimiter();
        // Machine consoles (GET /api/v1/machines/{id}/console/vnc) are WebSockets; pings keep idle proxies from cutting them.
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseWelkinPortal();
        app.MapOpenApi("/api/v1/openapi.json").AllowAnonymous();
        app.MapHealthChecks("/health/live", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") }).AllowAnonymous();
        return app;
    }

    /// <summary>Checks the port, creates the data directory, takes the database lease, migrates the database and bootstraps the provider administrator.</summary>
    public static async Task InitializeWelkinAsync(this WebApplication app, CancellationToken ct = default)
    {
        var options = app.Services.GetRequiredService<IOptions<WelkinOptions>>().Value;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Welkin");
        ServerStartup.EnsurePortFree(app, options);
        Welkin.Server.Federation.FederationSetup.EnsureFederationReady(app);
        ServerStartup.CreateDataDirectory(options.DataDir);
        // Before the migrations, and before the job runner requeues running jobs: a second server on this database stops here.
        var lease = app.Services.GetRequiredService<DatabaseLease>();
        await lease.AcquireAsync(ct);
        // Released once the job runner and the requests have stopped, so that a successor can start at once.
        app.Lifetime.ApplicationStopped.Register(lease.Dispose);
        var sealer = app.Services.GetRequiredService<AccessKeySealer>();
        if (sealer.Created)
        {
            Console.WriteLine($"Created the key that seals S3 secret access keys in {sealer.KeyFile} (mode 0600); keep it with the database's backups, apart from them.");
        }
        var auditKey = app.Services.GetRequiredService<AuditKey>();
        if (auditKey.Created)
        {
            Console.WriteLine($"Created the audit signing key {auditKey.KeyId} in {auditKey.KeyFile} (mode 0600); its public key is in {AuditKey.PublicKeyFile(auditKey.KeyFile!)}.");
        }
        else if (AuditKey.IsExposed(auditKey.KeyFile!))
        {
            logger.LogWarning("The audit signing key {KeyFile} is readable by others than its owner; make it mode 0600", auditKey.KeyFile);
        }
        OpenMasterKey(app);
        await app.Services.GetRequiredService<Migrator>().ApplyAsync(ct);
        if (app.Services.GetService<SimulationClock>() is { } simulation)
        {
            await simulation.RestoreAsync(ct);
        }
        var secret = await app.Services.GetRequiredService<Bootstrap>().EnsureProviderAdminAsync(ct);
        var tokenPath = Path.Combine(options.DataDir, AdminTokenFile);
        if (secret is not null)
        {
            await WriteOwnerOnlyAsync(tokenPath, secret + "\n", ct);
            Console.WriteLine($"Created provider administrator '{Bootstrap.AdminName}'; its API token is in {tokenPath} (mode 0600).");
        }
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            foreach (var address in addresses)
            {
                Console.WriteLine($"Welkin is listening on {address}");
            }
            var pools = app.Services.GetRequiredService<ComputeFabric>().Pools.Select(p => $"{p.Name} ({p.Kind}, {p.Hosts.Count} hosts)");
            Console.WriteLine($"Data directory: {options.DataDir}; host pools: {string.Join(", ", pools)}; API: /api/v1, OpenAPI: /api/v1/openapi.json");
            logger.LogInformation("Welkin started");
        });
    }

    internal static async Task WriteOwnerOnlyAsync(string path, string content, CancellationToken ct)
    {
        var temp = path + ".tmp";
        File.Delete(temp);
        var fso = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        await using (var stream = new FileStream(temp, fso))
        await using (var writer = new StreamWriter(stream))
        {
            await writer.WriteAsync(content.AsMemory(), ct);
            await writer.FlushAsync(ct);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}

public sealed class DatabaseHealthCheck(IDatabase db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await db.PingAsync(cancellationToken) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("database not migrated");
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("database unreachable");
        }
    }
}
