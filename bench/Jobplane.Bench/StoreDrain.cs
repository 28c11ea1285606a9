using System.Diagnostics;
using Jobplane.Api;
using Jobplane.Store;

namespace Jobplane.Bench;

/// <summary>
/// The platform's own claim and completion, without HTTP or workers: clients call
/// <see cref="QueueStore.ClaimAsync"/> for a batch and <see cref="QueueStore.CompleteManyAsync"/> with
/// a success for each attempt, until the backlog is drained. Set beside the claim/complete ceiling
/// (same backlog, batch and clients), it shows what the platform's schema and SQL cost PostgreSQL per
/// job (statements, WAL, buffer accesses, CPU of the backends) against the least a queue can cost,
/// and how much of the platform's drain the database alone allows.
/// </summary>
public sealed class StoreDrain(BenchOptions options, BenchDatabase db, Report report)
{
    private const int Clients = 4;

    public async Task<double> RunAsync()
    {
        Console.WriteLine($"\n== jobplane's store alone: claim and complete through QueueStore ({options.CeilingBacklog:N0} executions, "
            + $"{options.CeilingBatch} per claim, {Clients} clients, best of 2 rounds)");
        var tenant = await new TenantStore(db.DataSource).CreateAsync(new TenantSettings { Name = "bench-store" }, CancellationToken.None);
        var (jobId, _) = await new JobStore(db.DataSource).UpsertAsync(tenant.TenantId,
            new JobSpec("bench-store", "exec", ["true"], 3600, Priority.Normal, 3), CancellationToken.None);
        var seeder = new BacklogSeeder(db, tenant.TenantId, jobId);
        var queue = new QueueStore(db.DataSource);

        Round? best = null;
        for (var i = 0; i < 2; i++)
        {
            await seeder.InsertAsync(options.CeilingBacklog, "PENDING");
            await using (var cmd = db.DataSource.CreateCommand("/* bench */ vacuum analyze"))
            {
                cmd.CommandTimeout = 0;
                await cmd.ExecuteNonQueryAsync();
            }
            var round = await DrainAsync(queue);
            Console.WriteLine($"  {round.Jobs:N0} executions claimed and completed in {round.Seconds:0.00} s: {Report.Format(round.Rate)} jobs/s; "
                + $"per job {round.Counters.WalBytes / (double)round.Jobs:0} B of WAL, "
                + $"{(round.Counters.BufferHits + round.Counters.BufferReads) / (double)round.Jobs:0} buffer accesses, "
                + $"PostgreSQL CPU {Report.Format(round.PostgresCpuMs / round.Jobs)} ms; WAL from {round.WalFrom} to {round.WalTo}");
            if (best is null || round.Rate > best.Rate) best = round;
        }

        var c = best!.Counters;
        var jobs = (double)best.Jobs;
        report.Add(new Figure("store_drain_per_s", $"Store alone: claim + complete ({Clients} clients, {options.CeilingBatch} per claim)", best.Rate, "jobs/s",
            Note: "QueueStore called in-process: no HTTP, no workers; the platform's drain cannot exceed it"));
        report.Add(new Figure("store_drain_cpu_postgres_ms", "Store alone: PostgreSQL CPU per job", best.PostgresCpuMs / jobs, "ms",
            Note: "the clients' backends, sampled from /proc"));
        report.Add(new Figure("store_drain_wal_bytes_per_job", "Store alone: WAL bytes per job", c.WalBytes / jobs, "B",
            Note: $"{c.WalRecords / jobs:0.0} WAL records per job; the server's whole WAL"));
        report.Add(new Figure("store_drain_buffers_per_job", "Store alone: shared buffer accesses per job", (c.BufferHits + c.BufferReads) / jobs, ""));
        if (c.Statements is { } s)
            report.Add(new Figure("store_drain_statements_per_job", "Store alone: statements per job", s / jobs, ""));
        report.Add(new Figure("store_drain_commits_per_job", "Store alone: commits per job", c.Commits / jobs, ""));
        return best.Rate;
    }

    private sealed record Round(long Jobs, double Seconds, double PostgresCpuMs, DatabaseCounters Counters, string WalFrom, string WalTo)
    {
        public double Rate => Jobs / Seconds;
    }

    private async Task<Round> DrainAsync(QueueStore queue)
    {
        var lease = TimeSpan.FromMinutes(5);
        BackoffPolicy backoff = (_, _, _) => TimeSpan.FromSeconds(1);
        await Task.Delay(options.StatsSettle);
        var before = await db.CountersAsync();
        var walFrom = await WalPositionAsync();
        await using var postgresCpu = await DatabaseCpu.StartAsync(options.ServerConnectionString, db.Name, new HashSet<int>(), TimeSpan.FromMilliseconds(500));
        long jobs = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(i => Task.Run(async () =>
        {
            var worker = $"bench-store-{i}";
            while (true)
            {
                var claimed = await queue.ClaimAsync(options.CeilingBatch, worker, null, lease, CancellationToken.None);
                if (claimed.Count == 0) return;
                var done = new Completion[claimed.Count];
                for (var k = 0; k < claimed.Count; k++)
                    done[k] = new Completion(claimed[k].ExecutionId, claimed[k].LeaseToken, new AttemptResult(0, null, null, false));
                var outcomes = await queue.CompleteManyAsync(done, backoff, CancellationToken.None);
                if (outcomes.Any(o => o.Check != LeaseCheck.Accepted))
                    throw new InvalidOperationException("the store drain lost a lease: its figures would not be a drain's");
                Interlocked.Add(ref jobs, claimed.Count);
            }
        })));
        var seconds = watch.Elapsed.TotalSeconds;
        var cpu = await postgresCpu.StopAsync();
        await Task.Delay(options.StatsSettle);
        var walTo = await WalPositionAsync();
        var after = await db.CountersAsync();
        return new Round(jobs, seconds, cpu * 1000, after.Minus(before), walFrom, walTo);
    }

    private async Task<string> WalPositionAsync()
    {
        await using var cmd = db.DataSource.CreateCommand("/* bench */ select pg_current_wal_insert_lsn()::text");
        return (string)(await cmd.ExecuteScalarAsync())!;
    }
}
