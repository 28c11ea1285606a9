using System.Diagnostics;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// The database's own ceiling for a queue, pgbench-style: no HTTP, no platform, just the two
/// transactions every queue needs per batch, run by C clients straight against PostgreSQL. A narrow
/// table (id, priority, ready_at, and when it was claimed) is filled with the same backlog as
/// jobplane's no-op drain; each client loops: one transaction claims the next
/// <see cref="BenchOptions.CeilingBatch"/> rows in claim order with FOR UPDATE SKIP LOCKED and marks
/// them running, a second one completes them (deletes them), until the table is empty. Each client
/// count of <see cref="BenchOptions.CeilingClients"/> is measured twice on a fresh fill, and the best
/// round is the ceiling: what this server, on this machine, in this run, can do for claim+complete
/// at all. jobplane's no-op drain does the same work plus everything a platform adds (the execution's
/// record and attempt, leases, HTTP between worker and controller), so its share of this ceiling says
/// how much the platform costs over the bare queue.
/// </summary>
public sealed class QueueCeiling(BenchOptions options, BenchDatabase db, Report report)
{
    private const int RoundsPerClientCount = 2;

    public async Task<double> RunAsync()
    {
        Console.WriteLine($"\n== claim/complete ceiling, pgbench-style ({options.CeilingBacklog:N0} rows, {options.CeilingBatch} per claim, "
            + $"{string.Join(" and ", options.CeilingClients)} clients, {RoundsPerClientCount} rounds each)");
        var rounds = new List<Round>();
        foreach (var clients in options.CeilingClients)
        {
            for (var i = 0; i < RoundsPerClientCount; i++)
            {
                await FillAsync();
                var round = await DrainAsync(clients);
                Console.WriteLine($"  {clients} clients: {round.Rows:N0} rows claimed and completed in {round.Seconds:0.00} s: "
                    + $"{Report.Format(round.Rate)} rows/s; PostgreSQL CPU {Report.Format(round.PostgresCpuPerThousandMs)} ms per 1,000");
                rounds.Add(round);
            }
        }
        var best = rounds.MaxBy(r => r.Rate)!;
        var each = string.Join(", ", options.CeilingClients.Select(c =>
            $"{c} clients {string.Join(" / ", rounds.Where(r => r.Clients == c).Select(r => Report.Format(r.Rate)))}"));
        report.Add(new Figure("pg_claim_complete_ceiling_per_s", $"PostgreSQL claim/complete ceiling ({best.Clients} clients, {options.CeilingBatch} per claim)",
            best.Rate, "rows/s",
            Note: $"best round of: {each} rows/s; two commits per {options.CeilingBatch} rows, synchronous_commit as the server has it"));
        report.Add(new Figure("pg_claim_complete_cpu_postgres_ms", "PostgreSQL claim/complete ceiling: PostgreSQL CPU per 1,000 rows (best round)",
            best.PostgresCpuPerThousandMs, "ms", Note: "the clients' backends, sampled from /proc; the WAL writer and checkpointer not included"));
        return best.Rate;
    }

    private sealed record Round(int Clients, long Rows, double Seconds, double PostgresCpuPerThousandMs)
    {
        public double Rate => Rows / Seconds;
    }

    /// <summary>A fresh table each round, so that no round inherits the dead rows and index entries of the one before.</summary>
    private async Task FillAsync()
    {
        // The same shape and storage settings as jobplane's ready_queue, less what only a platform
        // needs (tenant, routing); the partial index is exactly the claim order of the rows not yet claimed.
        await using (var cmd = db.DataSource.CreateCommand("""
            /* bench */ drop table if exists bench_queue;
            create table bench_queue (
                id         bigint primary key,
                priority   smallint not null,
                ready_at   timestamptz not null,
                claimed_at timestamptz
            ) with (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
            create index bench_queue_claim_idx on bench_queue (priority desc, ready_at, id) where claimed_at is null;
            """))
        {
            await cmd.ExecuteNonQueryAsync();
        }
        await using (var cmd = db.DataSource.CreateCommand("""
            /* bench */ insert into bench_queue (id, priority, ready_at)
            select i, 0, now() + i * interval '1 microsecond' from generate_series(1, $1) as i
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = options.CeilingBacklog });
            await cmd.ExecuteNonQueryAsync();
        }
        // Its own statement: VACUUM cannot run inside the implicit transaction of a multi-statement command.
        await using (var cmd = db.DataSource.CreateCommand("/* bench */ vacuum analyze bench_queue")) await cmd.ExecuteNonQueryAsync();
    }

    private async Task<Round> DrainAsync(int clients)
    {
        // The batch is written into the statement rather than passed: with LIMIT as a parameter, the
        // generic plan PostgreSQL switches to after five executions guesses a tenth of the table and
        // may join the update by scanning all of it.
        var claimSql = $"""
            with picked as (
                select id from bench_queue where claimed_at is null
                order by priority desc, ready_at, id
                limit {options.CeilingBatch}
                for update skip locked
            )
            update bench_queue q set claimed_at = now() from picked where q.id = picked.id
            returning q.id
            """;
        const string CompleteSql = "delete from bench_queue where id = any($1)";

        var connections = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < clients; i++) connections.Add(await db.DataSource.OpenConnectionAsync());
            long rows = 0;
            // The backends of this database only (the clients' connections, open before the start).
            await using var postgresCpu = await DatabaseCpu.StartAsync(options.ServerConnectionString, db.Name, new HashSet<int>(), TimeSpan.FromMilliseconds(500));
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(connections.Select(conn => Task.Run(async () =>
            {
                // Prepared once per connection, as pgbench -M prepared does: each loop is then two
                // Bind/Execute round trips, each its own (autocommitted) transaction.
                await using var claim = new NpgsqlCommand(claimSql, conn);
                await claim.PrepareAsync();
                await using var complete = new NpgsqlCommand(CompleteSql, conn);
                var ids = new NpgsqlParameter<long[]> { TypedValue = [] };
                complete.Parameters.Add(ids);
                await complete.PrepareAsync();
                var batch = new List<long>(options.CeilingBatch);
                while (true)
                {
                    batch.Clear();
                    await using (var reader = await claim.ExecuteReaderAsync())
                    {
                        while (await reader.ReadAsync()) batch.Add(reader.GetInt64(0));
                    }
                    // Empty: every row is claimed, or locked by a client that is about to claim it.
                    if (batch.Count == 0) return;
                    ids.TypedValue = [.. batch];
                    await complete.ExecuteNonQueryAsync();
                    Interlocked.Add(ref rows, batch.Count);
                }
            })));
            var seconds = watch.Elapsed.TotalSeconds;
            var cpu = await postgresCpu.StopAsync();
            await using (var left = db.DataSource.CreateCommand("/* bench */ select count(*) from bench_queue"))
            {
                var remaining = (long)(await left.ExecuteScalarAsync())!;
                if (remaining != 0 || rows != options.CeilingBacklog)
                    throw new InvalidOperationException($"the claim/complete ceiling left {remaining} rows and completed {rows} of {options.CeilingBacklog}");
            }
            return new Round(clients, rows, seconds, cpu * 1000.0 / rows * 1000);
        }
        finally
        {
            foreach (var c in connections) await c.DisposeAsync();
        }
    }
}
