using System.Diagnostics;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// The scenarios that run the whole platform (controller and workers as processes, over HTTP):
/// submission one by one and in batches, draining a backlog with the noop and the exec runtime,
/// pickup latency on an idle platform, commits and statements per job, memory.
/// </summary>
public sealed class PlatformScenarios(BenchOptions options, BenchPlatform platform, Report report)
{
    private BenchDatabase Db => platform.Database;

    /// <summary>Counters once PostgreSQL has published every backend's statistics (see <see cref="BenchOptions.StatsSettle"/>).</summary>
    private async Task<DatabaseCounters> SettledCountersAsync()
    {
        await Task.Delay(options.StatsSettle);
        return await Db.CountersAsync();
    }

    private void ReportPerJob(string key, string what, DatabaseCounters delta, long jobs, Target? commitTarget, string? missNote)
    {
        report.Add(new Figure($"{key}_commits_per_job", $"{what}: commits per job", (double)delta.Commits / jobs, "", commitTarget,
            commitTarget is not null && !commitTarget.MetBy((double)delta.Commits / jobs) ? missNote : null));
        if (delta.Statements is { } s)
            report.Add(new Figure($"{key}_statements_per_job", $"{what}: statements per job", (double)s / jobs, ""));
        report.Add(new Figure($"{key}_wal_bytes_per_job", $"{what}: WAL bytes per job", (double)delta.WalBytes / jobs, "B",
            Note: $"{(double)delta.WalRecords / jobs:0.0} WAL records per job; the server's whole WAL, this harness's polling included"));
        report.Add(new Figure($"{key}_buffers_per_job", $"{what}: shared buffer accesses per job", (double)(delta.BufferHits + delta.BufferReads) / jobs, "",
            Note: $"{(double)delta.BufferReads / jobs:0.00} of them read from outside shared buffers"));
    }

    public async Task SubmitOneByOneAsync()
    {
        Console.WriteLine($"\n== submit, one execution per request ({options.SubmitClients} concurrent clients, {options.SubmitDuration.TotalSeconds:0} s)");
        var jobId = await platform.CreateJobAsync("bench-submit-one", "true");
        // Warm up (JIT, pools) outside the measurement.
        for (var i = 0; i < 50; i++) (await platform.Http.PostAsync(new Uri($"/jobs/{jobId}/run", UriKind.Relative), null)).EnsureSuccessStatusCode();
        var before = await SettledCountersAsync();
        long ok = 0, failed = 0;
        // CPU of the three parties sharing the cores: the controller, this harness's HTTP clients, and
        // the database's own backends (not the other databases a shared server may be busy with).
        var controllerCpu = CpuTime.Of(platform.Controller!.Pid);
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
        await using var databaseCpu = await DatabaseCpu.StartAsync(options.ServerConnectionString, Db.Name, new HashSet<int>(), TimeSpan.FromMilliseconds(250));
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, options.SubmitClients).Select(_ => Task.Run(async () =>
        {
            var uri = new Uri($"/jobs/{jobId}/run", UriKind.Relative);
            while (watch.Elapsed < options.SubmitDuration)
            {
                using var response = await platform.Http.PostAsync(uri, null);
                if (response.IsSuccessStatusCode) Interlocked.Increment(ref ok);
                else Interlocked.Increment(ref failed);
            }
        })));
        var elapsed = watch.Elapsed.TotalSeconds;
        var cpu = (Controller: CpuTime.Of(platform.Controller.Pid) - controllerCpu,
            Clients: (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalSeconds, Database: await databaseCpu.StopAsync());
        var delta = (await SettledCountersAsync()).Minus(before);
        if (failed > 0) report.Note($"submit one by one: {failed} requests failed");
        var rate = ok / elapsed;
        report.Add(new Figure("submit_single_per_s", "Submit, one per request", rate, "jobs/s", Target.Min(3_000),
            "Concurrent requests share transactions (group commit): each request's statement checks the API key and inserts the " +
            "execution and its ready-queue row, and one commit (one WAL flush) answers them all (synchronous_commit stays on: " +
            "a run is acknowledged only once committed); the HTTP clients run on the same 2 cores as the controller and PostgreSQL."));
        var perThousand = 1000.0 / Math.Max(1, ok);
        report.Add(new Figure("submit_single_cpu_controller_ms", "Submit one by one: controller CPU per 1,000 jobs", cpu.Controller * perThousand * 1000, "ms"));
        report.Add(new Figure("submit_single_cpu_clients_ms", "Submit one by one: HTTP clients' CPU per 1,000 jobs", cpu.Clients * perThousand * 1000, "ms",
            Note: "this harness's process while it submits"));
        report.Add(new Figure("submit_single_cpu_postgres_ms", "Submit one by one: PostgreSQL CPU per 1,000 jobs", cpu.Database * perThousand * 1000, "ms",
            Note: "the backends of the benchmark's database only (not the WAL writer's flushes, nor other databases')"));
        ReportPerJob("submit_single", "Submit one by one", delta, ok, Target.Max(1.2),
            "Besides the submission's own transaction: the shared rate-limit bucket (one write per chunk of tokens) " +
            "and the key's last-used time (once a minute).");
        await platform.CancelJobAsync(jobId);
    }

    public async Task SubmitBatchesAsync()
    {
        Console.WriteLine($"\n== submit in batches ({options.BatchSize:N0} per request, {options.BatchClients} clients, {options.BatchSubmitTotal:N0} executions)");
        var jobId = await platform.CreateJobAsync("bench-submit-batch", "true");
        await platform.SubmitManyAsync(jobId, options.BatchSize); // warm-up
        var before = await SettledCountersAsync();
        var remaining = options.BatchSubmitTotal;
        var controllerCpu = CpuTime.Of(platform.Controller!.Pid);
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
        await using var databaseCpu = await DatabaseCpu.StartAsync(options.ServerConnectionString, Db.Name, new HashSet<int>(), TimeSpan.FromMilliseconds(250));
        var serverCpu = CpuTime.OfPostgres();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, options.BatchClients).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Add(ref remaining, -options.BatchSize) > -options.BatchSize)
                await platform.SubmitManyAsync(jobId, options.BatchSize);
        })));
        var elapsed = watch.Elapsed.TotalSeconds;
        var cpu = (Controller: CpuTime.Of(platform.Controller.Pid) - controllerCpu,
            Clients: (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalSeconds, Database: await databaseCpu.StopAsync(),
            Server: CpuTime.OfPostgres() - serverCpu);
        var delta = (await SettledCountersAsync()).Minus(before);
        var rate = options.BatchSubmitTotal / elapsed;
        report.Add(new Figure("submit_batch_per_s", "Submit in batches", rate, "jobs/s", Target.Min(50_000),
            "Each execution is three rows written in one statement: executions (5 indexes, one foreign key check), ready_queue " +
            "(2 indexes) and its first event (1 index); two requests in flight on the same 2 cores as PostgreSQL and the controller."));
        // Where the cores went: per 1,000 executions, so that the figure compares with the single submissions'.
        var perThousand = 1000.0 / options.BatchSubmitTotal;
        report.Add(new Figure("submit_batch_cpu_controller_ms", "Submit in batches: controller CPU per 1,000 jobs", cpu.Controller * perThousand * 1000, "ms"));
        report.Add(new Figure("submit_batch_cpu_clients_ms", "Submit in batches: HTTP clients' CPU per 1,000 jobs", cpu.Clients * perThousand * 1000, "ms",
            Note: "this harness's process while it submits"));
        report.Add(new Figure("submit_batch_cpu_postgres_ms", "Submit in batches: PostgreSQL backends' CPU per 1,000 jobs", cpu.Database * perThousand * 1000, "ms",
            Note: "the backends of the benchmark's database only"));
        report.Add(new Figure("submit_batch_cpu_server_ms", "Submit in batches: whole PostgreSQL server's CPU per 1,000 jobs", cpu.Server * perThousand * 1000, "ms",
            Note: "every postgres process: the WAL writer, checkpointer and autovacuum too"));
        ReportPerJob("submit_batch", "Submit in batches", delta, options.BatchSubmitTotal, Target.Max(0.1), null);
        await platform.CancelJobAsync(jobId);
    }

    /// <summary>Pre-loads a backlog with no worker running, then starts the workers and times the drain from the database's own timestamps.</summary>
    public async Task DrainAsync(string runtime, int backlog, int workers, int concurrency, double? processStartRate)
    {
        Console.WriteLine($"\n== drain {backlog:N0} executions, runtime {runtime} ({workers} workers x {concurrency} slots)");
        var jobId = await platform.CreateJobAsync($"bench-drain-{runtime}", "true");
        await platform.SubmitManyAsync(jobId, backlog);
        // Reset before the counters are read: they count statements from the same view.
        await Db.ResetStatementStatsAsync();
        var before = await SettledCountersAsync();
        var controllerCpu = CpuTime.Of(platform.Controller!.Pid);
        var postgresCpu = CpuTime.OfPostgres();
        var controllerAllocated = await platform.ControllerAllocatedBytesAsync();
        var watch = Stopwatch.StartNew();
        var started = platform.StartWorkers(runtime, workers, concurrency);
        var limit = TimeSpan.FromSeconds(Math.Max(120, backlog / 100));
        while (true)
        {
            await Task.Delay(250);
            platform.ThrowIfDied();
            await using var cmd = Db.DataSource.CreateCommand("""
                /* bench */ select (select count(*) from ready_queue) + (select count(*) from execution_attempts where ended_at is null)
                """);
            if ((long)(await cmd.ExecuteScalarAsync())! == 0) break;
            if (watch.Elapsed > limit) throw new TimeoutException($"the {runtime} drain did not finish within {limit.TotalSeconds:0} s");
        }
        var wall = watch.Elapsed.TotalSeconds;
        // Workers' time includes their start-up (a few hundred milliseconds each).
        var cpu = (Controller: CpuTime.Of(platform.Controller.Pid) - controllerCpu,
            Workers: started.Sum(w => CpuTime.Of(w.Pid)), Postgres: CpuTime.OfPostgres() - postgresCpu);
        var allocated = (Controller: await platform.ControllerAllocatedBytesAsync() - controllerAllocated,
            Workers: (await Task.WhenAll(started.Select(platform.WorkerAllocatedBytesAsync))).Aggregate((double?)0, (sum, w) => sum + w));
        long succeeded, retried;
        double span;
        await using (var cmd = Db.DataSource.CreateCommand("""
            /* bench */ select count(*) filter (where status = 'SUCCEEDED'), count(*) filter (where attempt > 1),
                   extract(epoch from max(completed_at) - min(started_at))::float8
            from executions where job_id = $1
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = jobId });
            await using var reader = await cmd.ExecuteReaderAsync();
            await reader.ReadAsync();
            succeeded = reader.GetInt64(0);
            retried = reader.GetInt64(1);
            span = reader.GetDouble(2);
        }
        var delta = (await SettledCountersAsync()).Minus(before);
        // Where PostgreSQL's time went, statement by statement (the harness's own polling excluded).
        foreach (var line in await Db.TopStatementsAsync(8)) Console.WriteLine($"    {line}");
        if (succeeded != backlog) report.Note($"{runtime} drain: {succeeded} of {backlog} executions SUCCEEDED");
        if (retried > 0) report.Note($"{runtime} drain: {retried} executions needed more than one attempt");
        var rate = succeeded / span;
        if (runtime == "noop")
        {
            report.Add(new Figure("drain_noop_per_s", "Drain, noop runtime", rate, "jobs/s", Target.Min(10_000),
                "Claims and completions are batched (about 0.1 commits per job), so PostgreSQL's transaction rate no longer " +
                "bounds it: the CPU per 1,000 jobs below shows where the 2 cores go."));
        }
        else
        {
            var target = processStartRate is { } p ? Target.Min(0.8 * p) : null;
            report.Add(new Figure("drain_exec_per_s", "Drain, exec runtime running `true`", rate, "jobs/s", target,
                "Each attempt also takes a job user, creates and removes a working directory, and spawns `setpriv ... -- true` " +
                "(two execs) with two pipes, then kills whatever the job user left, on the same 2 cores as the controller and PostgreSQL."));
        }
        report.Add(new Figure($"drain_{runtime}_wall_s", $"Drain, {runtime}: wall clock incl. worker start", wall, "s"));
        var perThousand = 1000.0 / Math.Max(1, succeeded);
        report.Add(new Figure($"drain_{runtime}_cpu_controller_ms", $"Drain, {runtime}: controller CPU per 1,000 jobs", cpu.Controller * perThousand * 1000, "ms"));
        report.Add(new Figure($"drain_{runtime}_cpu_workers_ms", $"Drain, {runtime}: workers' CPU per 1,000 jobs", cpu.Workers * perThousand * 1000, "ms"));
        report.Add(new Figure($"drain_{runtime}_cpu_postgres_ms", $"Drain, {runtime}: PostgreSQL CPU per 1,000 jobs", cpu.Postgres * perThousand * 1000, "ms",
            Note: "every postgres process on the machine, including other databases' and this harness's polling"));
        if (allocated.Controller is { } controllerBytes)
            report.Add(new Figure($"drain_{runtime}_alloc_controller_bytes", $"Drain, {runtime}: controller managed allocations per job",
                controllerBytes / Math.Max(1, succeeded), "B", Note: "the harness's own requests to the controller during the drain included"));
        if (allocated.Workers is { } workerBytes)
            report.Add(new Figure($"drain_{runtime}_alloc_workers_bytes", $"Drain, {runtime}: workers' managed allocations per job",
                workerBytes / Math.Max(1, succeeded), "B", Note: "since each worker started: its start-up is included"));
        ReportPerJob($"drain_{runtime}", $"Drain, {runtime}", delta, succeeded, null, null);
        await ReportQueueHealthAsync(runtime);
    }

    private async Task ReportQueueHealthAsync(string runtime)
    {
        await using var cmd = Db.DataSource.CreateCommand("""
            /* bench */ select pg_total_relation_size('ready_queue'), coalesce(n_dead_tup, 0)
            from pg_stat_user_tables where relname = 'ready_queue'
            """);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        report.Add(new Figure($"ready_queue_kib_after_{runtime}", $"ready_queue size after the {runtime} drain (empty queue)",
            reader.GetInt64(0) / 1024.0, "KiB", Note: $"dead tuples: {reader.GetInt64(1)}"));
    }

    /// <summary>
    /// Submits one execution at a time to a platform whose workers are idle (long-polling), a
    /// little apart, and reads submit-to-start from the database clock: created_at (the submitting
    /// transaction) to started_at (the claim).
    /// </summary>
    public async Task PickupLatencyAsync()
    {
        Console.WriteLine($"\n== pickup latency on an idle platform ({options.PickupSamples} executions, {options.PickupGap.TotalMilliseconds:0} ms apart)");
        var jobId = await platform.CreateJobAsync("bench-pickup", "true");
        var uri = new Uri($"/jobs/{jobId}/run", UriKind.Relative);
        for (var i = 0; i < options.PickupSamples + 20; i++)
        {
            (await platform.Http.PostAsync(uri, null)).EnsureSuccessStatusCode();
            await Task.Delay(options.PickupGap);
        }
        await Task.Delay(1000);
        var latencies = new List<double>();
        await using (var cmd = Db.DataSource.CreateCommand("""
            /* bench */ select extract(epoch from started_at - created_at)::float8 * 1000 from executions
            where job_id = $1 and started_at is not null order by created_at offset 20
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = jobId });
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync()) latencies.Add(reader.GetDouble(0));
        }
        if (latencies.Count < options.PickupSamples) report.Note($"pickup: only {latencies.Count} of {options.PickupSamples} executions had started");
        const string why = "Measured from the submitting transaction's start to the claim's: the submission's own insert and commit " +
            "(a WAL flush), the NOTIFY, waking the long-poll and starting the claim all fall inside it, on 2 shared cores.";
        report.Add(new Figure("pickup_p50_ms", "Pickup latency p50 (submit to start)", Percentiles.Of(latencies, 50), "ms", Target.Max(5), why));
        report.Add(new Figure("pickup_p99_ms", "Pickup latency p99", Percentiles.Of(latencies, 99), "ms", Target.Max(25), why));
    }
}
