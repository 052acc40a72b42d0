using Welkin.Testing;

namespace Welkin.Server.Tests.Infrastructure;

/// <summary>A <see cref="WelkinApp"/> whose database is a private PostgreSQL cluster instead of the SQLite default.</summary>
public sealed class PostgresWelkinApp : WelkinApp
{
    public PostgresWelkinApp()
    {
        Postgres = new PostgresCluster();
    }

    public string ConnectionString => Postgres!.ConnectionString;
}
