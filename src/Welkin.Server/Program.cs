using Welkin.Server.Endpoints;
using Welkin.Server.Infrastructure;

if (AuditVerifyCommand.Matches(args))
{
    return await AuditVerifyCommand.RunAsync(args[2..], Console.Out, CancellationToken.None);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddWelkinConfiguration(args);
builder.AddWelkinServer();

var app = builder.Build();
app.UseWelkinPipeline();
app.MapSecurityManager();
app.MapAccounts();
app.MapServiceCatalog();
app.MapImages();
app.MapOperations();
app.MapContracts();
app.MapServiceManager();
app.MapChangeManager();
app.MapOvf();
app.MapConfiguration();
app.MapMetering();
app.MapSla();
app.MapMonitoring();
app.MapBilling();

await app.InitializeWelkinAsync();
await app.RunAsync();
return 0;

public partial class Program;
