using Npgsql;
using Welkin.Persistence;
using Welkin.Server.Infrastructure;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Hosting;

/// <summary>One server per PostgreSQL database: the second refuses to start, before it migrates or requeues anything.</summary>
public sealed class PostgresLeaseTests(PostgresCluster postgres) : IClassFixture<PostgresCluster>, IDisposable
{
    private readonly string _workingDirectory = Directory.CreateDirectory(TempDirectories.NewPath("welkin-cwd-")).FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => TempDirectories.TryDelete(_workingDirectory);

    [Fact]
    public async Task TwoServersOnOneDatabase_TheSecondRefuses_UntilTheFirstHasStopped()
    {
        var database = await postgres.CreateDatabaseAsync(Ct);
        await using var first = Server(database, "a");
        await first.ListeningAsync(Ct);

        await using var second = Server(database, "b");
        (await second.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.LeaseHeld);
        var where = new NpgsqlConnectionStringBuilder(database);
        second.StandardError.ShouldStartWith(
            $"welkin-server: the PostgreSQL database {where.Database} on 127.0.0.1:{postgres.Port} is in use by another Welkin server " +
            $"(welkin-server pid {first.ProcessId} on {Environment.MachineName}, backend pid ");
        second.StandardError.ShouldEndWith("; one server per database until replicas are supported\n");

        (await first.StopAsync(Ct)).ShouldBe(0);
        await using var third = Server(database, "c");
        await third.ListeningAsync(Ct);
    }

    [Fact]
    public async Task HeldDatabase_TheServerRefusesBeforeMigrating()
    {
        var database = await postgres.CreateDatabaseAsync(Ct);
        await using var held = new DatabaseLease(Directory.CreateDirectory(Path.Combine(_workingDirectory, "holder")).FullName, database);
        await held.AcquireAsync(Ct);

        await using var server = Server(database, "refused");

        (await server.ExitCodeAsync(Ct)).ShouldBe(ServerExitCodes.LeaseHeld);
        server.StandardError.ShouldContain("is in use by another Welkin server");
        (await TableCountAsync(database)).ShouldBe(0);
    }

    [Fact]
    public async Task Lease_Disposed_IsFreeForTheNextHolder()
    {
        var database = await postgres.CreateDatabaseAsync(Ct);
        var first = new DatabaseLease(Directory.CreateDirectory(Path.Combine(_workingDirectory, "1")).FullName, database);
        await using var second = new DatabaseLease(Directory.CreateDirectory(Path.Combine(_workingDirectory, "2")).FullName, database);
        await first.AcquireAsync(Ct);

        var refused = await Should.ThrowAsync<DatabaseLeaseException>(() => second.AcquireAsync(Ct));
        await first.DisposeAsync();
        await second.AcquireAsync(Ct);

        refused.Failure.ShouldBe(DatabaseLeaseFailure.Held);
        second.Held.ShouldBeTrue();
    }

    private ServerCommand Server(string database, string name) =>
        ServerCommand.StartServer(_workingDirectory, Path.Combine(_workingDirectory, name), "--database", "postgresql", "--connection-string", database);

    private static async Task<long> TableCountAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'", connection);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
