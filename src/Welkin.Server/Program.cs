using Welkin.Portal;
using Welkin.Server.Endpoints;
using Welkin.Server.Federation;
using Welkin.Server.Infrastructure;
using Welkin.Server.S3;

if (AuditVerifyCommand.Matches(args))
{
    return await AuditVerifyCommand.RunAsync(args[2..], Console.Out, CancellationToken.None);
}

if (FederationCaCommand.Matches(args))
{
    return await FederationCaCommand.RunAsync(args[2..], Console.Out, TimeProvider.System);
}

if (ServerCommandLine.Check(args, Console.Out, Console.Error) is { } exitCode)
{
    return exitCode;
}

WebApplication? app = null;
try
{
    var builder = WebApplication.CreateBuilder(ServerSetup.BuilderOptions(args));
    builder.AddWelkinConfiguration(args);
    builder.AddWelkinServer();
    builder.AddFederationListener();
    builder.AddS3Face();

    app = builder.Build();
    app.UseWelkinPipeline();
    app.MapSecurityManager();
    app.MapAccessKeys();
    app.MapAccounts();
    app.MapServiceCatalog();
    app.MapCatalogDescription();
    app.MapCatalogSparql();
    app.MapImages();
    app.MapOperations();
    app.MapContracts();
    app.MapIncomingMachines();
    app.MapOutgoingMachines();
    app.MapServiceManager();
    app.MapChangeManager();
    app.MapOvf();
    app.MapMachinePackages();
    app.MapUploads();
    app.MapConfiguration();
    app.MapVaults();
    app.MapVaultGrants();
    app.MapVaultSoxReports();
    app.MapMetering();
    app.MapSla();
    app.MapMonitoring();
    app.MapBilling();
    app.MapFederation();
    app.MapFederationPeers();
    app.MapFederationAgreements();
    app.MapFederationResales();
    app.MapBursting();
    app.MapFederationSelection();
    app.MapWelkinPortal();

    await app.InitializeWelkinAsync();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is not HostAbortedException && ServerStartup.IsOwnProcess)
{
    return ServerStartup.Report(e, app, Console.Error);
}

public partial class Program;
