using Welkin.Server.Endpoints;
using Welkin.Server.Infrastructure;

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

await app.InitializeWelkinAsync();
await app.RunAsync();

public partial class Program;
