using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Data;

namespace Welkin.Persistence;

public sealed class DatabaseOptions
{
    /// <summary>"sqlite" (default, a file in the data directory) or "postgresql".</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>Npgsql connection string when <see cref="Provider"/> is postgresql.</summary>
    public string? ConnectionString { get; set; }
}

public static class PersistenceServiceCollectionExtensions
{
    public const string SqliteFileName = "welkin.db";

    public static IServiceCollection AddWelkinPersistence(this IServiceCollection services, DatabaseOptions options, string dataDirectory)
    {
        switch (options.Provider.ToLowerInvariant())
        {
            case "sqlite":
                var sqlite = new SqliteDatabase(Path.Combine(dataDirectory, SqliteFileName));
                services.AddSingleton<IDatabase>(sqlite);
                services.AddSingleton<IMigrationDialect>(sqlite);
                services.AddSingleton(_ => new DatabaseLease(dataDirectory, postgresConnectionString: null));
                break;
            case "postgresql" or "postgres":
                if (string.IsNullOrWhiteSpace(options.ConnectionString))
                {
                    throw new InvalidOperationException("Database:ConnectionString is required when Database:Provider is postgresql.");
                }
                var connectionString = options.ConnectionString;
                // Created by the container so that it disposes the connection pool on shutdown.
                services.AddSingleton(_ => new PostgresDatabase(connectionString));
                services.AddSingleton<IDatabase>(sp => sp.GetRequiredService<PostgresDatabase>());
                services.AddSingleton<IMigrationDialect>(sp => sp.GetRequiredService<PostgresDatabase>());
                services.AddSingleton(_ => new DatabaseLease(dataDirectory, connectionString));
                break;
            default:
                throw new InvalidOperationException($"Unknown Database:Provider '{options.Provider}' (use sqlite or postgresql).");
        }
        services.AddSingleton<Migrator>();
        return services;
    }
}
