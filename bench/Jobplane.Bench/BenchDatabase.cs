using Jobplane.Store;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>What PostgreSQL counted for the benchmark database between two moments.</summary>
public sealed record DatabaseCounters(long Commits, long Rollbacks, long? Statements)
{
    public DatabaseCounters Minus(DatabaseCounters before) =>
        new(Commits - before.Commits, Rollbacks - before.Rollbacks,
            Statements is { } s && before.Statements is { } b ? s - b : null);
}

/// <summary>
/// A fresh database (jobplane_bench_*) on the local PostgreSQL server, migrated, dropped at the end.
/// Commits come from pg_stat_database; statements from pg_stat_statements when the server has it
/// loaded (it needs shared_preload_libraries, which the harness does not change on a running server).
/// </summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    private readonly string _server;

    private BenchDatabase(string server, string name)
    {
        _server = server;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = name, ApplicationName = "jobplane-bench" }.ConnectionString;
        DataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    public string Name { get; }
    public string ConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }
    /// <summary>True when pg_stat_statements is loaded and the extension could be created in this database.</summary>
    public bool HasStatementStats { get; private set; }

    public static async Task<BenchDatabase> CreateAsync(string server, string suffix)
    {
        var name = $"jobplane_bench_{DateTime.UtcNow:yyyyMMddHHmmss}_{suffix}";
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database \"{name}\"", admin);
            await cmd.ExecuteNonQueryAsync();
        }
        var db = new BenchDatabase(server, name);
        await new Migrator(db.DataSource).MigrateAsync();
        try
        {
            await using var cmd = db.DataSource.CreateCommand("""
                create extension if not exists pg_stat_statements;
                select count(*) from pg_stat_statements limit 1;
                """);
            await cmd.ExecuteNonQueryAsync();
            db.HasStatementStats = true;
        }
        catch (PostgresException)
        {
            // Not installed, or not in shared_preload_libraries: statements are then not counted.
        }
        return db;
    }

    public async Task<string> ServerVersionAsync()
    {
        await using var cmd = DataSource.CreateCommand("select current_setting('server_version')");
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Transactions committed in this database, and statements run in it (pg_stat_statements), so far.</summary>
    public async Task<DatabaseCounters> CountersAsync()
    {
        // A fresh connection and a cleared snapshot: statistics read earlier in a session are cached.
        await using var conn = await DataSource.OpenConnectionAsync();
        await using (var clear = new NpgsqlCommand("select pg_stat_clear_snapshot()", conn)) await clear.ExecuteNonQueryAsync();
        long commits, rollbacks;
        await using (var cmd = new NpgsqlCommand("select xact_commit, xact_rollback from pg_stat_database where datname = current_database()", conn))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            commits = reader.GetInt64(0);
            rollbacks = reader.GetInt64(1);
        }
        long? statements = null;
        if (HasStatementStats)
        {
            // Only the platform's statements: not the harness's own (application_name is not recorded
            // there, so the harness's queries are excluded by the role-independent marker below).
            await using var cmd = new NpgsqlCommand("""
                select coalesce(sum(calls), 0)::bigint from pg_stat_statements s
                where s.dbid = (select oid from pg_database where datname = current_database())
                  and s.query not like '%pg_stat%' and s.query not like '%/* bench */%'
                """, conn);
            statements = (long)(await cmd.ExecuteScalarAsync())!;
        }
        return new DatabaseCounters(commits, rollbacks, statements);
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var admin = new NpgsqlConnection(_server);
            await admin.OpenAsync();
            await using var cmd = new NpgsqlCommand($"drop database if exists \"{Name}\" with (force)", admin);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"jobplane-bench: could not drop database {Name}: {e.Message}");
        }
    }
}
