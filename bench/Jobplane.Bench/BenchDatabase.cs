using Jobplane.Store;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// What PostgreSQL counted for the benchmark database between two moments: transactions, the
/// platform's statements, the shared buffers they hit and read (pg_stat_database), and the WAL the
/// whole server wrote (pg_stat_wal: WAL is not counted per database, so anything else the server
/// does meanwhile is in it too).
/// </summary>
public sealed record DatabaseCounters(long Commits, long Rollbacks, long? Statements, long BufferHits, long BufferReads, long WalBytes, long WalRecords)
{
    public DatabaseCounters Minus(DatabaseCounters before) =>
        new(Commits - before.Commits, Rollbacks - before.Rollbacks,
            Statements is { } s && before.Statements is { } b ? s - b : null,
            BufferHits - before.BufferHits, BufferReads - before.BufferReads, WalBytes - before.WalBytes, WalRecords - before.WalRecords);
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

    /// <param name="migrate">False leaves the database empty: for a baseline that brings its own schema.</param>
    public static async Task<BenchDatabase> CreateAsync(string server, string suffix, bool migrate = true)
    {
        var name = $"jobplane_bench_{DateTime.UtcNow:yyyyMMddHHmmss}_{suffix}";
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database \"{name}\"", admin);
            await cmd.ExecuteNonQueryAsync();
        }
        var db = new BenchDatabase(server, name);
        if (migrate) await new Migrator(db.DataSource).MigrateAsync();
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
        if (db.HasStatementStats)
        {
            try
            {
                // Planning time per statement too, for the sessions that connect from now on (the
                // platform's): a statement planned for each call can spend more planning than executing.
                await using var cmd = db.DataSource.CreateCommand($"alter database \"{name}\" set pg_stat_statements.track_planning = on");
                await cmd.ExecuteNonQueryAsync();
            }
            catch (PostgresException)
            {
                // Not a superuser: planning shows as 0.
            }
        }
        return db;
    }

    /// <summary>Forgets what pg_stat_statements counted in this database so far (a no-op without it).</summary>
    public async Task ResetStatementStatsAsync()
    {
        if (!HasStatementStats) return;
        await using var cmd = DataSource.CreateCommand(
            "/* bench */ select pg_stat_statements_reset(0, (select oid from pg_database where datname = current_database()), 0)");
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// The statements that took the most execution time in this database since the last reset, one
    /// line each (calls, total and mean time, the text's start); empty without pg_stat_statements.
    /// </summary>
    public async Task<IReadOnlyList<string>> TopStatementsAsync(int count)
    {
        if (!HasStatementStats) return [];
        await using var cmd = DataSource.CreateCommand("""
            /* bench */ select calls, total_exec_time, mean_exec_time, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110), total_plan_time
            from pg_stat_statements
            where dbid = (select oid from pg_database where datname = current_database())
              and query not like '%/* bench */%' and query not like '%pg_stat%'
            order by total_exec_time desc limit $1
            """);
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
        var lines = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{reader.GetInt64(0),7:N0} calls {reader.GetDouble(1),9:N0} ms total {reader.GetDouble(2),8:0.000} ms mean {reader.GetInt64(3),8:N0} rows {reader.GetDouble(5),7:N0} ms planning  {reader.GetString(4)}"));
        }
        return lines;
    }

    public async Task<string> ServerVersionAsync()
    {
        await using var cmd = DataSource.CreateCommand("select current_setting('server_version')");
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Transactions committed in this database, statements run in it (pg_stat_statements), its buffer accesses and the server's WAL, so far.</summary>
    public async Task<DatabaseCounters> CountersAsync()
    {
        // A fresh connection and a cleared snapshot: statistics read earlier in a session are cached.
        await using var conn = await DataSource.OpenConnectionAsync();
        await using (var clear = new NpgsqlCommand("select pg_stat_clear_snapshot()", conn)) await clear.ExecuteNonQueryAsync();
        long commits, rollbacks, hits, reads, walBytes, walRecords;
        await using (var cmd = new NpgsqlCommand("""
            select d.xact_commit, d.xact_rollback, d.blks_hit, d.blks_read, w.wal_bytes::bigint, w.wal_records
            from pg_stat_database d, pg_stat_wal w where d.datname = current_database()
            """, conn))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            commits = reader.GetInt64(0);
            rollbacks = reader.GetInt64(1);
            hits = reader.GetInt64(2);
            reads = reader.GetInt64(3);
            walBytes = reader.GetInt64(4);
            walRecords = reader.GetInt64(5);
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
        return new DatabaseCounters(commits, rollbacks, statements, hits, reads, walBytes, walRecords);
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        // Kept for a closer look (pg_waldump of a printed WAL range needs the relations' names).
        if (Environment.GetEnvironmentVariable("BENCH_KEEP_DATABASES") == "1")
        {
            Console.WriteLine($"  database {Name} kept (BENCH_KEEP_DATABASES=1)");
            return;
        }
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
