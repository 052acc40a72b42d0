using Welkin.Testing;

namespace Welkin.Server.Tests.Infrastructure;

/// <summary>A <see cref="WelkinApp"/> whose database is a private PostgreSQL cluster instead of the SQLite default.</summary>
public sealed class PostgresWelkinApp : WelkinApp
{
    private readonly PostgresCluster _cluster = new();

    public string ConnectionString => _cluster.ConnectionString;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Database:Provider"] = "postgresql",
        ["Database:ConnectionString"] = _cluster.ConnectionString,
    };

    public override async ValueTask InitializeAsync()
    {
        await _cluster.InitializeAsync();
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _cluster.DisposeAsync();
    }
}
