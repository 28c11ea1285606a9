using System.Diagnostics;
using Jobplane.Api;
using Jobplane.Store;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// Retention against a large history: BENCH_RETENTION_ROWS finished executions (each with two log
/// lines and an attempt), finished 40 days ago, are written straight into the schema. Then submit
/// and claim throughput on another tenant are measured in windows that alternate between no retention
/// running and retention deleting the history the way the controller's maintenance loop does it
/// (RetentionStore.DeleteRoundAsync: batches for at most RETENTION_MAX_PERCENT of each one-second
/// tick, then a pause). The database
/// size is read before, after retention and a plain VACUUM (what autovacuum does), and after the
/// same number of new executions has been written again, which shows the freed space reused.
/// </summary>
public sealed class RetentionScenario(BenchOptions options, BenchDatabase db, Report report)
{
    private static readonly RetentionPolicy Policy = new(TimeSpan.FromDays(30), TimeSpan.FromDays(30), TimeSpan.FromDays(365));
    private const int Submitters = 8;
    private const int ClaimBatch = 100;

    public async Task RunAsync()
    {
        var rows = options.RetentionRows;
        Console.WriteLine($"\n== retention of {rows:N0} finished executions (batches of {options.RetentionBatch}, {options.RetentionPercent}% of each 1 s tick)");
        var tenants = new TenantStore(db.DataSource);
        var jobs = new JobStore(db.DataSource);
        var oldTenant = (await tenants.CreateAsync(new TenantSettings { Name = "bench-retention-history" }, CancellationToken.None)).TenantId;
        var (oldJob, _) = await jobs.UpsertAsync(oldTenant, new JobSpec("history", "exec", ["true"], 3600, Priority.Normal, 3), CancellationToken.None);
        var liveTenant = (await tenants.CreateAsync(new TenantSettings { Name = "bench-retention-live" }, CancellationToken.None)).TenantId;
        var (liveJob, _) = await jobs.UpsertAsync(liveTenant, new JobSpec("live", "exec", ["true"], 3600, Priority.Normal, 3), CancellationToken.None);

        var watch = Stopwatch.StartNew();
        await InsertHistoryAsync(oldTenant, oldJob, rows, 40);
        await SqlAsync("vacuum analyze");
        var before = await SizeAsync();
        Console.WriteLine($"  {rows:N0} old executions written in {watch.Elapsed.TotalSeconds:0.0} s; database {Mib(before):0} MiB");
        report.Add(new Figure("retention_db_mib_before", $"Database size with {Label(rows)} old finished executions", Mib(before), "MiB"));

        var retention = new RetentionStore(db.DataSource);
        // 0: paused; 1: the maintenance loop's pattern (a round of at most BENCH_RETENTION_PERCENT of
        // each one-second tick, the rest of the tick off); 2: round after round, to finish sooner.
        var mode = 0;
        var deleted = 0L;
        var deleting = Task.Run(async () =>
        {
            while (true)
            {
                var current = Volatile.Read(ref mode);
                if (current == 0)
                {
                    await Task.Delay(20);
                    continue;
                }
                var tick = Stopwatch.StartNew();
                var budget = current == 2 ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(options.RetentionPercent / 100.0);
                var round = await retention.DeleteRoundAsync(Policy, options.RetentionBatch, budget, TimeProvider.System, CancellationToken.None);
                Interlocked.Add(ref deleted, round.Executions);
                if (!round.Behind) return;
                if (current == 2) continue;
                var rest = TimeSpan.FromSeconds(1) - tick.Elapsed;
                if (rest > TimeSpan.Zero) await Task.Delay(rest);
            }
        });

        // Windows with and without retention alternate, so that the machine's drift (other load on
        // a shared host) falls on both alike; each figure is the mean of its windows.
        var without = new List<(double Submits, double Claims)>();
        var with = new List<(double Submits, double Claims)>();
        var retentionWatch = Stopwatch.StartNew();
        var loadSeconds = 0.0;
        for (var round = 0; round < 2; round++)
        {
            without.Add(await MeasureLoadAsync(liveTenant, liveJob, null));
            Volatile.Write(ref mode, 1);
            var window = Stopwatch.StartNew();
            with.Add(await MeasureLoadAsync(liveTenant, liveJob, deleting));
            loadSeconds += window.Elapsed.TotalSeconds;
            Volatile.Write(ref mode, 0);
        }
        var deletedDuringLoad = Interlocked.Read(ref deleted);
        var quiet = (Submits: without.Average(w => w.Submits), Claims: without.Average(w => w.Claims));
        var busy = (Submits: with.Average(w => w.Submits), Claims: with.Average(w => w.Claims));
        report.Add(new Figure("retention_submit_per_s_without", "Submit throughput, no retention running", quiet.Submits, "executions/s"));
        report.Add(new Figure("retention_claim_per_s_without", "Claim+complete throughput, no retention running", quiet.Claims, "executions/s"));
        report.Add(new Figure("retention_submit_per_s_with", $"Submit throughput, retention running ({options.RetentionPercent}% of each tick)", busy.Submits, "executions/s",
            Note: $"{Ratio(busy.Submits, quiet.Submits)} of the figure without retention"));
        report.Add(new Figure("retention_claim_per_s_with", $"Claim+complete throughput, retention running ({options.RetentionPercent}% of each tick)", busy.Claims, "executions/s",
            Note: $"{Ratio(busy.Claims, quiet.Claims)} of the figure without retention"));
        report.Add(new Figure("retention_deleted_per_s_under_load", $"Executions deleted per second under load, {options.RetentionPercent}% of each tick (with logs and attempts)",
            deletedDuringLoad / loadSeconds, "executions/s"));
        var flatWatch = Stopwatch.StartNew();
        Volatile.Write(ref mode, 2);
        await deleting;
        var total = retentionWatch.Elapsed.TotalSeconds;
        if (rows > deletedDuringLoad)
        {
            report.Add(new Figure("retention_deleted_per_s_flat_out", "Executions deleted per second, round after round, no other load",
                (rows - deletedDuringLoad) / flatWatch.Elapsed.TotalSeconds, "executions/s"));
        }
        var left = await ScalarAsync("select count(*) from executions where tenant_id = $1", oldTenant);
        if (left != 0) throw new InvalidOperationException($"retention left {left} old executions");
        report.Add(new Figure("retention_total_seconds", $"Time to delete {Label(rows)} old executions (tick pattern under load, paused between windows, then flat out)", total, "s"));

        await SqlAsync("vacuum analyze");
        var after = await SizeAsync();
        report.Add(new Figure("retention_db_mib_after", "Database size after retention and a plain VACUUM", Mib(after), "MiB",
            Note: "A plain VACUUM (as autovacuum) marks the space free for reuse; it does not give it back to the file system."));
        await InsertHistoryAsync(oldTenant, oldJob, rows, 1);
        await SqlAsync("vacuum analyze");
        var refilled = await SizeAsync();
        report.Add(new Figure("retention_db_mib_refilled", $"Database size after writing {Label(rows)} new executions again", Mib(refilled), "MiB",
            Note: $"{Mib(refilled - before):+0;-0} MiB against the size before retention, which held as many rows"));
        Console.WriteLine($"  deleted {rows:N0} in {total:0.0} s; database {Mib(before):0} -> {Mib(after):0} MiB after VACUUM, {Mib(refilled):0} MiB after refilling");
    }

    /// <summary>
    /// Submit (one execution per call, 8 callers) and claim+complete (batches of 100, one claimer) on
    /// the live tenant for BENCH_RETENTION_SECONDS; executions per second of each.
    /// </summary>
    private async Task<(double Submits, double Claims)> MeasureLoadAsync(Guid tenant, Guid job, Task? background)
    {
        var executions = new ExecutionStore(db.DataSource);
        var queue = new QueueStore(db.DataSource);
        using var window = new CancellationTokenSource(options.RetentionLoad);
        long submitted = 0, claimed = 0;
        var watch = Stopwatch.StartNew();
        var submitters = Enumerable.Range(0, Submitters).Select(_ => Task.Run(async () =>
        {
            while (!window.IsCancellationRequested)
            {
                await executions.RunAsync(tenant, job, new RunOptions(null, null, null), null, CancellationToken.None);
                Interlocked.Increment(ref submitted);
            }
        })).ToList();
        var claimer = Task.Run(async () =>
        {
            while (!window.IsCancellationRequested)
            {
                var batch = await queue.ClaimAsync(ClaimBatch, "bench-retention", [tenant], TimeSpan.FromSeconds(30), CancellationToken.None);
                if (batch.Count == 0)
                {
                    await Task.Delay(5);
                    continue;
                }
                await queue.CompleteManyAsync(
                    batch.Select(c => new Completion(c.ExecutionId, c.LeaseToken, new AttemptResult(0, null, null, true))).ToList(),
                    (_, _, _) => TimeSpan.FromSeconds(1), CancellationToken.None);
                Interlocked.Add(ref claimed, batch.Count);
            }
        });
        await Task.WhenAll([.. submitters, claimer]);
        var seconds = watch.Elapsed.TotalSeconds;
        if (background is { IsFaulted: true }) await background;
        var label = background is null ? "without retention" : "with retention";
        Console.WriteLine($"  {label}: {submitted / seconds:N0} submits/s, {claimed / seconds:N0} claims/s over {seconds:0.0} s");
        return (submitted / seconds, claimed / seconds);
    }

    /// <summary>Finished executions with two log lines and one attempt each, finished the given number of days ago, in chunks.</summary>
    private async Task InsertHistoryAsync(Guid tenant, Guid job, long count, int daysAgo)
    {
        const int Chunk = 50_000;
        for (long done = 0; done < count;)
        {
            var n = (int)Math.Min(Chunk, count - done);
            await using var cmd = db.DataSource.CreateCommand("""
                /* bench */ with made as (
                    insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, attempt, max_attempts,
                                            scheduled_at, created_at, started_at, completed_at, exit_code)
                    select gen_random_uuid(), $1, $2, 'SUCCEEDED', 50, 3600, 1, 3, t, t, t, t + interval '2 seconds', 0
                    from generate_series(1, $3) g, lateral (select now() - make_interval(days => $4) + g * interval '1 millisecond' as t) x
                    returning id, started_at
                ), logged as (
                    insert into execution_logs (execution_id, stream, content, created_at)
                    select id, 'stdout', 'processing item ' || n || ' of the nightly export', started_at from made, generate_series(1, 2) n
                )
                insert into execution_attempts (execution_id, attempt, worker_id, lease_token, started_at, ended_at, exit_code, outcome, tenant_id)
                select id, 1, 'bench-worker', gen_random_uuid(), started_at, started_at + interval '2 seconds', 0, 'succeeded', $1 from made
                """);
            cmd.CommandTimeout = 0;
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = tenant });
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = job });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = n });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = daysAgo });
            await cmd.ExecuteNonQueryAsync();
            done += n;
        }
    }

    private async Task<long> SizeAsync() => await ScalarAsync("/* bench */ select pg_database_size(current_database())", null);

    private async Task<long> ScalarAsync(string sql, Guid? arg)
    {
        await using var cmd = db.DataSource.CreateCommand(sql);
        if (arg is { } a) cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = a });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private async Task SqlAsync(string sql)
    {
        await using var cmd = db.DataSource.CreateCommand($"/* bench */ {sql}");
        cmd.CommandTimeout = 0;
        await cmd.ExecuteNonQueryAsync();
    }

    private static double Mib(long bytes) => bytes / (1024.0 * 1024);

    private static string Ratio(double a, double b) => b > 0 ? $"{a / b:P0}" : "?";

    private static string Label(long size) => size >= 1_000_000 ? $"{size / 1_000_000.0:0.#}M" : size >= 1_000 ? $"{size / 1_000}k" : $"{size}";
}
