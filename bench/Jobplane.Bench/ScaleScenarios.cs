using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Jobplane.Api;
using Jobplane.Store;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// The scale dimensions of the performance issue (BENCH_ONLY=scale; BENCH_SCALE_PARTS picks some of
/// tenants, idle, rows), each on a fresh database:
/// <list type="number">
/// <item><b>tenants</b>: 1,000 tenants (BENCH_SCALE_TENANTS), each with a job and 50 ready executions
/// (BENCH_SCALE_TENANT_BACKLOG), competing for a full fleet: <see cref="ClaimTenants"/> at that size.
/// <c>scale_tenants_claim_p50_ms</c>/<c>_p99_ms</c> time one <see cref="QueueStore.ClaimAsync"/> of a
/// batch of 32 (the slots the fleet freed); <c>_fairness_cv_pct</c> and <c>_fairness_max_min</c> are
/// the spread of the executions each tenant got over the timed claims (equal weights: ideally the
/// same number each, at most one apart).</item>
/// <item><b>idle</b>: the real controller with 500 idle long-polling workers (BENCH_SCALE_POLLERS),
/// played by the harness itself: 500 concurrent dequeue requests over HTTP with 500 worker ids, each
/// sent exactly as the worker agent sends it (worker credential, <c>User-Agent: jobplane-worker/...</c>,
/// limit = the worker's default WORKER_CONCURRENCY of 4, the same number announced as its slots,
/// runtime exec and its runtime class, wait_seconds = the worker's default WORKER_POLL_INTERVAL of
/// 20 s), each sent again as soon as it is answered, and every execution handed out reported as
/// succeeded at once in one results call, as a worker does. The first poll of each asks for a random
/// wait between 1 and 20 s, so that the pollers' re-polls are spread over time as those of workers
/// started at different moments are, rather than all falling in the same second.
/// <c>scale_idle_controller_cpu_ms_per_s</c> and <c>scale_idle_postgres_cpu_ms_per_s</c> are CPU
/// milliseconds per second of wall clock (10 = 1% of one core) over BENCH_SCALE_IDLE_SECONDS with
/// nothing to do: the controller process from /proc, and PostgreSQL's backends serving the
/// benchmark database, sampled from pg_stat_activity and /proc (<see cref="DatabaseCpu"/>).
/// <c>scale_idle_claims_per_s</c> counts the claim statements the controller ran meanwhile (its
/// jobplane_queue_claim_duration histogram, which also gives <c>scale_idle_claim_mean_ms</c>), after
/// the pollers' first claims are over. Then pickup with
/// those pollers connected: 100 single executions (60 in the quick run; BENCH_SCALE_PICKUP_SAMPLES)
/// submitted one at a time (POST /jobs/{id}/run), each 500 ms (BENCH_SCALE_PICKUP_GAP_MS) after a
/// poller received the previous one;
/// <c>scale_idle_pickup_p50_ms</c>/<c>_p99_ms</c> are measured as the platform group's pickup figures
/// are (the database clock, from the submitting transaction to the claim),
/// <c>scale_idle_received_p50_ms</c>/<c>_p99_ms</c> from sending the submission to a poller holding the
/// answer (the harness's clock: HTTP both ways included), and <c>scale_idle_claims_per_submission</c>
/// is every claim the controller ran in that phase per submission (a notification wakes the first
/// waiting long-poll, which wakes two more when it finds work).</item>
/// <item><b>rows</b>: an executions table of 10,000,000 rows (BENCH_SCALE_ROWS; 1,000,000 in the quick
/// run, which every label then says), 96% succeeded, 2% failed, 2% cancelled, created evenly over
/// the last 28 days (inside the default 30-day retention, so the running controller deletes none of
/// it), spread over 200 tenants (BENCH_SCALE_HISTORY_TENANTS) of 5 jobs each, of which the first, the
/// tenant that reads, has one row in five; then a ready backlog spread over all of them. Only
/// executions are written (no attempts, events or logs for the history). The load is one
/// insert ... select from generate_series per core, into the table with its secondary indexes and
/// foreign keys dropped; they are then put back from the definitions read from the catalog before
/// (and checked equal afterwards), the backlog is queued through the real indexes, and the database
/// vacuumed and analysed, as autovacuum would have left a table that grew over weeks.
/// <c>scale_rows_seed_s</c> is all of that. Then, with the real controller on the database: GET
/// /executions (50 rows) newest first, the same from a keyset cursor at a random point of the
/// tenant's history, and GET /executions/{id} of random executions of its history, each timed by the
/// harness (HTTP on loopback included); and <see cref="QueueStore.ClaimAsync"/> of 100 through the
/// real store against the big table, then the completion of those 100 (<see cref="QueueStore.CompleteManyAsync"/>).</item>
/// </list>
/// </summary>
public sealed class ScaleScenarios(BenchOptions options, Report report, string work)
{
    /// <summary>The worker's defaults a poller copies: WORKER_CONCURRENCY and WORKER_POLL_INTERVAL.</summary>
    private const int PollerSlots = 4;
    private static readonly TimeSpan PollWait = TimeSpan.FromSeconds(20);
    private const int JobsPerTenant = 5;
    private const int ReadWarmup = 10;
    private const int ReadSamples = 40;

    private string Rows => $"{Label(options.ScaleRows)} executions{(options.Quick ? " (quick run)" : "")}";

    public async Task RunAsync()
    {
        var watch = Stopwatch.StartNew();
        if (options.ScaleParts.Contains("tenants"))
        {
            await using var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "scale_tenants");
            await new ClaimTenants(options, db, report).RunAsync(options.ScaleTenants, options.ScaleTenantBacklog, options.ClaimSamples,
                "scale_tenants_claim", null);
        }
        if (options.ScaleParts.Contains("idle")) await IdlePollersAsync();
        if (options.ScaleParts.Contains("rows")) await LargeHistoryAsync();
        report.Add(new Figure("scale_wall_s", $"Scale dimensions ({string.Join(", ", options.ScaleParts)}): wall clock", watch.Elapsed.TotalSeconds, "s"));
    }

    // ---- 500 idle long-polling workers ----

    private async Task IdlePollersAsync()
    {
        var count = options.ScalePollers;
        Console.WriteLine($"\n== {count} idle long-polling workers ({PollerSlots} slots each, {PollWait.TotalSeconds:0} s polls): " +
            $"CPU over {options.ScaleIdle.TotalSeconds:0} s idle, then pickup ({options.ScalePickupSamples} executions)");
        await using var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "scale_idle");
        await using var platform = new BenchPlatform(options, db, work);
        await platform.StartAsync();
        var controller = platform.Controller!;
        var metrics = new Uri(platform.Http.BaseAddress!, "/metrics");
        var jobId = await platform.CreateJobAsync("bench-scale-pickup", "true");

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = count + 64, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler) { BaseAddress = platform.Http.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BenchPlatform.WorkerToken);
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue(Wire.WorkerProduct, "0.0.0-bench"));
        using var stop = new CancellationTokenSource();
        var received = new ConcurrentDictionary<Guid, TaskCompletionSource<long>>();
        long polls = 0, failures = 0;
        var pollers = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            var workerId = $"bench-idle-{i:D4}";
            var wait = 1 + Random.Shared.NextDouble() * (PollWait.TotalSeconds - 1);
            while (!stop.IsCancellationRequested)
            {
                DequeueResponse? answer;
                try
                {
                    using var response = await http.PostAsync(Routes.WorkerDequeue.TrimStart('/'), JsonContent.Create(new DequeueRequest
                    {
                        Limit = PollerSlots,
                        WorkerId = workerId,
                        WaitSeconds = wait,
                        Runtime = "exec",
                        Capabilities = new WorkerCapabilities { RuntimeClasses = [RuntimeClasses.Exec], Slots = PollerSlots },
                    }, JobplaneJsonContext.Default.DequeueRequest), stop.Token);
                    wait = PollWait.TotalSeconds;
                    Interlocked.Increment(ref polls);
                    if (!response.IsSuccessStatusCode) throw new HttpRequestException($"dequeue answered {(int)response.StatusCode}");
                    answer = await response.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.DequeueResponse, stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is HttpRequestException or JsonException)
                {
                    Interlocked.Increment(ref failures);
                    await Task.Delay(1000, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                    continue;
                }
                var at = Stopwatch.GetTimestamp();
                if (answer is not { Executions.Count: > 0 }) continue;
                foreach (var e in answer.Executions) received.GetOrAdd(e.ExecutionId, _ => NewArrival()).TrySetResult(at);
                // As a worker whose jobs ended at once: one results call for the batch.
                var results = new ResultBatchRequest
                {
                    Results = [.. answer.Executions.Select(e => new ResultReport { ExecutionId = e.ExecutionId, LeaseToken = e.LeaseToken, ExitCode = 0, Runtime = "exec", DurationSeconds = 0 })],
                };
                using var reported = await http.PostAsync(Routes.WorkerResults.TrimStart('/'), JsonContent.Create(results, JobplaneJsonContext.Default.ResultBatchRequest), CancellationToken.None);
                if (!reported.IsSuccessStatusCode) Interlocked.Increment(ref failures);
            }
        })).ToArray();

        try
        {
            // Every poller has announced itself (the registry writes a worker's row before its first claim).
            var connecting = Stopwatch.StartNew();
            while (await ScalarAsync(db, "/* bench */ select count(*) from workers where worker_id like 'bench-idle-%'") < count)
            {
                platform.ThrowIfDied();
                if (connecting.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"{count} pollers did not all reach the controller within 60 s");
                await Task.Delay(250);
            }
            Console.WriteLine($"  {count} pollers connected in {connecting.Elapsed.TotalSeconds:0.0} s");
            // Their first claims, all at once, are over: at most about one claim per poller in 2 s, two
            // windows in a row (idle, only the first waiter re-checks, once a second).
            var settling = Stopwatch.StartNew();
            var calm = 0;
            while (calm < 2 && settling.Elapsed < TimeSpan.FromSeconds(30))
            {
                var before = await ClaimCountAsync(metrics);
                await Task.Delay(TimeSpan.FromSeconds(2));
                calm = await ClaimCountAsync(metrics) - before <= count * 1.2 ? calm + 1 : 0;
            }

            var pid = controller.Pid;
            var cpuBefore = CpuTime.Of(pid);
            var serverBefore = CpuTime.OfPostgres();
            var claimsBefore = await ClaimCountAsync(metrics);
            var claimTimeBefore = await ClaimSecondsAsync(metrics);
            var pollsBefore = Interlocked.Read(ref polls);
            var idle = Stopwatch.StartNew();
            var what = $"{count} idle long-polling workers";
            await using (var dbCpu = await DatabaseCpu.StartAsync(options.ServerConnectionString, db.Name, new HashSet<int>(), TimeSpan.FromSeconds(1)))
            {
                await Task.Delay(options.ScaleIdle);
                var seconds = idle.Elapsed.TotalSeconds;
                var postgres = await dbCpu.StopAsync();
                var controllerCpu = CpuTime.Of(pid) - cpuBefore;
                var server = CpuTime.OfPostgres() - serverBefore;
                var claims = await ClaimCountAsync(metrics) - claimsBefore;
                var claimTime = await ClaimSecondsAsync(metrics) - claimTimeBefore;
                var answered = Interlocked.Read(ref polls) - pollsBefore;
                platform.ThrowIfDied();
                report.Add(new Figure("scale_idle_controller_cpu_ms_per_s", $"{what}: controller CPU per second idle", controllerCpu * 1000 / seconds, "ms/s",
                    Note: $"10 ms/s is 1% of one core; {answered / seconds:0.0} polls answered (empty, after their 20 s) per second, each sent again at once"));
                report.Add(new Figure("scale_idle_postgres_cpu_ms_per_s", $"{what}: PostgreSQL CPU per second idle (the database's backends)", postgres * 1000 / seconds, "ms/s",
                    Note: $"{dbCpu.Backends} backends seen; every postgres process of the server: {server * 1000 / seconds:0.0} ms/s (other databases' work included)"));
                if (claims is { } c)
                {
                    report.Add(new Figure("scale_idle_claims_per_s", $"{what}: claim statements per second idle", c / seconds, "claims/s",
                        Note: "a notification or the once-a-second re-check wakes the first waiting long-poll, and a claim that finds work wakes two more; each new poll starts with a claim"));
                    if (claimTime is { } t && c > 0)
                    {
                        report.Add(new Figure("scale_idle_claim_mean_ms", $"{what}: mean time of one of those claims", t / c * 1000, "ms",
                            Note: "the controller's own claim duration: waiting for a pooled connection and for the claim lock included"));
                    }
                }
                if (ProcessMemory.Read(pid) is { } memory)
                    report.Add(new Figure("scale_idle_controller_rss_mib", $"{what}: controller RSS", memory.Rss, "MiB"));
            }

            // Pickup with the pollers connected: one submission at a time.
            var claimsAtStart = await ClaimCountAsync(metrics);
            var run = new Uri($"/jobs/{jobId}/run", UriKind.Relative);
            var seen = new List<double>();
            const int Warmup = 10;
            var refused = 0;
            for (var i = 0; i < options.ScalePickupSamples + Warmup; i++)
            {
                var sent = Stopwatch.GetTimestamp();
                using var response = await platform.Http.PostAsync(run, null);
                if (!response.IsSuccessStatusCode)
                {
                    // Counted, not timed: a platform too busy to take a submission is a finding of its own.
                    if (++refused > 10) throw new InvalidOperationException($"submissions keep failing with {(int)response.StatusCode}");
                    await Task.Delay(options.ScalePickupGap);
                    continue;
                }
                var executionId = (await response.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.RunJobResponse))!.ExecutionId;
                var arrived = await received.GetOrAdd(executionId, _ => NewArrival()).Task.WaitAsync(TimeSpan.FromSeconds(30));
                if (i >= Warmup) seen.Add(Stopwatch.GetElapsedTime(sent, arrived).TotalMilliseconds);
                await Task.Delay(options.ScalePickupGap);
            }
            var claimsAtEnd = await ClaimCountAsync(metrics);
            platform.ThrowIfDied();
            var latencies = new List<double>();
            await using (var cmd = db.DataSource.CreateCommand("""
                /* bench */ select extract(epoch from started_at - created_at)::float8 * 1000 from executions
                where job_id = $1 and started_at is not null order by created_at offset $2
                """))
            {
                cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = jobId });
                cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Warmup });
                await using var reader = await cmd.ExecuteReaderAsync();
                while (await reader.ReadAsync()) latencies.Add(reader.GetDouble(0));
            }
            if (refused > 0) report.Note($"{what}: {refused} submissions were refused during the pickup measurement");
            var label = $"with {what}";
            const string why = "Measured as the platform group's pickup: from the submitting transaction's start to the claim's, on the database clock. " +
                "The notification wakes the longest-waiting long-poll, which claims the execution and wakes two more (which find nothing).";
            report.Add(new Figure("scale_idle_pickup_p50_ms", $"Pickup latency p50 (submit to start) {label}", Percentiles.Of(latencies, 50), "ms", Target.Max(5), why));
            report.Add(new Figure("scale_idle_pickup_p99_ms", $"Pickup latency p99 {label}", Percentiles.Of(latencies, 99), "ms", Target.Max(25), why));
            report.Add(new Figure("scale_idle_received_p50_ms", $"Submit request sent to a poller holding the execution, p50, {label}", Percentiles.Of(seen, 50), "ms",
                Note: "the harness's clock: the submission's HTTP request and the dequeue's answer are included"));
            report.Add(new Figure("scale_idle_received_p99_ms", $"Submit request sent to a poller holding the execution, p99, {label}", Percentiles.Of(seen, 99), "ms"));
            if (claimsAtStart is { } a && claimsAtEnd is { } b)
            {
                report.Add(new Figure("scale_idle_claims_per_submission", $"Claim statements per submission {label}",
                    (b - a) / (options.ScalePickupSamples + Warmup), "claims",
                    Note: $"every claim the controller ran while the executions were submitted {options.ScalePickupGap.TotalMilliseconds:0} ms apart, per submission; " +
                        "the wake-ups that come without a submission (see scale_idle_claims_per_s) fall in this phase too"));
            }
            if (Interlocked.Read(ref failures) > 0) report.Note($"{what}: {failures} dequeue or result calls failed");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(pollers);
        }
    }

    private static TaskCompletionSource<long> NewArrival() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static Task<double?> ClaimCountAsync(Uri metrics) =>
        MetricsText.SumAsync(metrics, "jobplane_queue_claim_duration_seconds_count", BenchPlatform.AdminSecret);

    private static Task<double?> ClaimSecondsAsync(Uri metrics) =>
        MetricsText.SumAsync(metrics, "jobplane_queue_claim_duration_seconds_sum", BenchPlatform.AdminSecret);

    // ---- a 10-million-row executions table ----

    private async Task LargeHistoryAsync()
    {
        var rows = options.ScaleRows;
        var tenantCount = options.ScaleHistoryTenants;
        var ready = (options.ClaimSamples + 10) * options.ClaimBatch * 5 / 4;
        Console.WriteLine($"\n== {Rows}: reads and claims ({tenantCount} tenants x {JobsPerTenant} jobs, {ready:N0} ready)");
        var whole = Stopwatch.StartNew();

        // The same tenants and ready work without the history first: what a claim costs on a small table.
        (double P50, double P99) baseline;
        await using (var small = await BenchDatabase.CreateAsync(options.ServerConnectionString, "scale_rows_base"))
        {
            var (smallTenants, smallJobs, _) = await SeedTenantsAsync(small, tenantCount);
            await InsertReadyAsync(small, smallTenants, smallJobs, ready, 0);
            await SqlAsync(small, "vacuum analyze");
            baseline = (await ClaimsAsync(small)).Claim;
        }

        await using var db = await BenchDatabase.CreateAsync(options.ServerConnectionString, "scale_rows");
        var (tenants, jobs, readerKey) = await SeedTenantsAsync(db, tenantCount);
        var seed = Stopwatch.StartNew();
        var (foreignKeys, indexes) = await SecondaryObjectsAsync(db);
        foreach (var f in foreignKeys) await SqlAsync(db, $"alter table executions drop constraint \"{f.Name}\"");
        foreach (var x in indexes) await SqlAsync(db, $"drop index \"{x.Name}\"");
        // One statement per core, each a contiguous range of the history.
        var parts = Math.Clamp(Environment.ProcessorCount, 1, 4);
        var start = DateTimeOffset.UtcNow - TimeSpan.FromDays(28);
        await Task.WhenAll(Enumerable.Range(0, parts).Select(p => InsertHistoryAsync(db, tenants, jobs, rows * p / parts + 1, rows * (p + 1) / parts, rows, start)));
        var loaded = seed.Elapsed.TotalSeconds;
        if (foreignKeys.Count > 0)
            await SqlAsync(db, "alter table executions " + string.Join(", ", foreignKeys.Select(f => $"add constraint \"{f.Name}\" {f.Definition}")));
        var keyed = seed.Elapsed.TotalSeconds;
        // Two builds at a time (each may use PostgreSQL's parallel maintenance workers too).
        var pending = new ConcurrentQueue<(string Name, string Definition)>(indexes);
        await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            await using var conn = await db.DataSource.OpenConnectionAsync();
            await using (var set = new NpgsqlCommand("set maintenance_work_mem = '512MB'", conn)) await set.ExecuteNonQueryAsync();
            while (pending.TryDequeue(out var index))
            {
                await using var cmd = new NpgsqlCommand($"/* bench */ {index.Definition}", conn) { CommandTimeout = 0 };
                await cmd.ExecuteNonQueryAsync();
            }
        })));
        var indexed = seed.Elapsed.TotalSeconds;
        var after = await SecondaryObjectsAsync(db);
        if (!after.ForeignKeys.SequenceEqual(foreignKeys) || !after.Indexes.SequenceEqual(indexes))
            throw new InvalidOperationException("the executions table's indexes or foreign keys differ from the migrated schema's after the load");
        await InsertReadyAsync(db, tenants, jobs, ready, rows);
        await SqlAsync(db, "vacuum analyze");
        var seedSeconds = seed.Elapsed.TotalSeconds;
        var size = await ScalarAsync(db, "/* bench */ select pg_total_relation_size('executions')");
        Console.WriteLine($"  {rows:N0} rows in {loaded:0.0} s, foreign keys {keyed - loaded:0.0} s, {indexes.Count} indexes {indexed - keyed:0.0} s, " +
            $"backlog, vacuum and analyze {seedSeconds - indexed:0.0} s; executions with its indexes {size / 1048576.0:N0} MiB");
        report.Add(new Figure("scale_rows_count", "Large history: executions in the table", rows + ready, "rows",
            Note: options.Quick ? $"quick run: {Label(rows)} rows of history; the full run (make bench) has 10M" : null));
        report.Add(new Figure("scale_rows_seed_s", $"Large history: seeding {Rows}", seedSeconds, "s",
            Note: $"{parts} insert statements in parallel {loaded:0.0} s (no secondary indexes or foreign keys); foreign keys back {keyed - loaded:0.0} s; " +
                $"{indexes.Count} indexes rebuilt {indexed - keyed:0.0} s; {ready:N0} ready queued, then VACUUM ANALYZE {seedSeconds - indexed:0.0} s"));
        report.Add(new Figure("scale_rows_table_mib", $"Large history: executions table with its indexes, {Rows}", size / 1048576.0, "MiB"));

        await using (var platform = new BenchPlatform(options, db, work))
        {
            await platform.StartAsync();
            using var client = new HttpClient { BaseAddress = platform.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", readerKey);
            await ReadsAsync(db, client, tenants[0]);
            platform.ThrowIfDied();
        }

        var (claim, complete) = await ClaimsAsync(db);
        var note = $"{options.ClaimBatch} per claim, through the store; ready work round all {tenantCount} tenants";
        report.Add(new Figure("scale_rows_claim_p50_ms", $"Claim latency p50, {Rows}", claim.P50, "ms", Note: note));
        report.Add(new Figure("scale_rows_claim_p99_ms", $"Claim latency p99, {Rows}", claim.P99, "ms"));
        report.Add(new Figure("scale_rows_claim_base_p50_ms", "Claim latency p50, the same tenants and ready work with no history", baseline.P50, "ms",
            Note: $"p99 {baseline.P99:0.0} ms; a database of its own, measured just before the large one"));
        report.Add(new Figure("scale_rows_claim_ratio", $"Claim p50 with {Rows} / with no history", claim.P50 / baseline.P50, "x"));
        report.Add(new Figure("scale_rows_complete_p50_ms", $"Completion of a claimed batch p50, {Rows}", complete.P50, "ms",
            Note: $"the {options.ClaimBatch} just claimed reported succeeded in one call (QueueStore.CompleteManyAsync)"));
        report.Add(new Figure("scale_rows_complete_p99_ms", $"Completion of a claimed batch p99, {Rows}", complete.P99, "ms"));
        report.Add(new Figure("scale_rows_wall_s", $"Large history: wall clock of the whole part, {Rows}", whole.Elapsed.TotalSeconds, "s"));
    }

    /// <summary>
    /// The history's tenants, each with <see cref="JobsPerTenant"/> exec jobs: the first (the one that
    /// reads) through the store, for its API key; the others set-based, one statement per table.
    /// </summary>
    private static async Task<(Guid[] Tenants, Guid[] Jobs, string ReaderKey)> SeedTenantsAsync(BenchDatabase db, int count)
    {
        var reader = await new TenantStore(db.DataSource).CreateAsync(new TenantSettings { Name = "bench-scale-reader" }, CancellationToken.None);
        var tenants = new Guid[count];
        tenants[0] = reader.TenantId;
        for (var i = 1; i < count; i++) tenants[i] = Guid.CreateVersion7();
        var jobs = Enumerable.Range(0, count * JobsPerTenant).Select(_ => Guid.CreateVersion7()).ToArray();
        await using var batch = db.DataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            /* bench */ insert into tenants (id, name)
            select id, 'bench-scale-' || lpad(n::text, 5, '0') from unnest($1::uuid[]) with ordinality as u(id, n)
            """) { Parameters = { new NpgsqlParameter<Guid[]> { TypedValue = tenants[1..] } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            /* bench */ insert into jobs (id, tenant_id, name, image, command, timeout_seconds, priority, max_attempts)
            select j, ($1::uuid[])[(n - 1) / $3 + 1], 'nightly-' || ((n - 1) % $3), 'exec', array['true'], 3600, 50, 3
            from unnest($2::uuid[]) with ordinality as u(j, n)
            """)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid[]> { TypedValue = tenants },
                new NpgsqlParameter<Guid[]> { TypedValue = jobs },
                new NpgsqlParameter<int> { TypedValue = JobsPerTenant },
            },
        });
        await batch.ExecuteNonQueryAsync();
        return (tenants, jobs, reader.ApiKey);
    }

    /// <summary>The executions table's foreign keys and its indexes that back no constraint, each by name with its definition.</summary>
    private static async Task<(List<(string Name, string Definition)> ForeignKeys, List<(string Name, string Definition)> Indexes)> SecondaryObjectsAsync(BenchDatabase db)
    {
        var keys = new List<(string, string)>();
        var indexes = new List<(string, string)>();
        await using var cmd = db.DataSource.CreateCommand("""
            /* bench */ select 'f', conname::text, pg_get_constraintdef(oid) from pg_constraint
            where conrelid = 'executions'::regclass and contype = 'f'
            union all
            select 'i', c.relname::text, pg_get_indexdef(c.oid) from pg_index x join pg_class c on c.oid = x.indexrelid
            where x.indrelid = 'executions'::regclass and not exists (select 1 from pg_constraint k where k.conindid = x.indexrelid)
            order by 1, 2
            """);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            (reader.GetString(0) == "f" ? keys : indexes).Add((reader.GetString(1), reader.GetString(2)));
        return (keys, indexes);
    }

    /// <summary>
    /// Finished executions g = first..last of the history: time-ordered ids (like the platform's
    /// UUIDv7) following created_at, so the primary key grows at its end; every fifth row the reading
    /// tenant's, the others round the remaining tenants; jobs in turn within each tenant.
    /// </summary>
    private static async Task InsertHistoryAsync(BenchDatabase db, Guid[] tenants, Guid[] jobs, long first, long last, long total, DateTimeOffset start)
    {
        await using var cmd = db.DataSource.CreateCommand("""
            /* bench */ insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, attempt, max_attempts,
                                                scheduled_at, created_at, started_at, completed_at, exit_code, error, worker_id)
            select (lpad(to_hex((extract(epoch from x.t) * 1000)::bigint), 12, '0') || '7' || lpad(to_hex(g), 15, '0') || '8000')::uuid,
                   ($1::uuid[])[x.tn + 1], ($2::uuid[])[x.tn * $7 + (g / 7) % $7 + 1],
                   case when g % 50 = 0 then 'FAILED' when g % 50 = 1 then 'CANCELLED' else 'SUCCEEDED' end,
                   50, 3600, 1, 3, x.t, x.t, x.t + interval '40 milliseconds', x.t + interval '2 seconds',
                   case when g % 50 = 0 then 1 when g % 50 = 1 then null else 0 end,
                   case when g % 50 = 0 then 'exit code 1' end,
                   'bench-worker-' || (g % 16)
            from generate_series($3::bigint, $4::bigint) g,
                 lateral (select $5::timestamptz + (g::float8 / $6) * interval '28 days' as t,
                                 case when g % 5 = 0 then 0 else 1 + (g / 5) % (cardinality($1::uuid[]) - 1) end as tn) x
            """);
        cmd.CommandTimeout = 0;
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = tenants });
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = jobs });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = first });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = last });
        cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = start });
        cmd.Parameters.Add(new NpgsqlParameter<double> { TypedValue = total });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = JobsPerTenant });
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Ready executions round all the tenants (their first job), queued with the real indexes in place.</summary>
    private static async Task InsertReadyAsync(BenchDatabase db, Guid[] tenants, Guid[] jobs, int count, long offset)
    {
        await using var cmd = db.DataSource.CreateCommand("""
            /* bench */ with ins as (
                insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at)
                select (lpad(to_hex((extract(epoch from now()) * 1000)::bigint), 12, '0') || '7' || lpad(to_hex($4 + g), 15, '0') || '8000')::uuid,
                       ($1::uuid[])[g % cardinality($1::uuid[]) + 1], ($2::uuid[])[(g % cardinality($1::uuid[])) * $5 + 1],
                       'PENDING', (g % 3) * 25 + 25, 3600, 3, now() - interval '1 minute' * random()
                from generate_series(1, $3) g
                returning id, tenant_id, priority, scheduled_at
            )
            insert into ready_queue (execution_id, tenant_id, priority, ready_at, runtime_class, network, run_as_root, memory_mib, cpus, pids)
            select id, tenant_id, priority, scheduled_at, 'exec', false, false, null, null, null from ins
            """);
        cmd.CommandTimeout = 0;
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = tenants });
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = jobs });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = offset });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = JobsPerTenant });
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task ReadsAsync(BenchDatabase db, HttpClient client, Guid tenant)
    {
        // Random points of the tenant's history: a sample of the table's pages, shuffled.
        var sample = new List<(Guid Id, DateTimeOffset At)>();
        await using (var cmd = db.DataSource.CreateCommand("""
            /* bench */ select id, created_at from executions tablesample system (1) where tenant_id = $1 and status <> 'PENDING'
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = tenant });
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync()) sample.Add((reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1)));
        }
        var needed = 2 * (ReadWarmup + ReadSamples);
        if (sample.Count < needed) throw new InvalidOperationException($"only {sample.Count} of the reading tenant's executions sampled ({needed} needed)");
        var shuffled = sample.OrderBy(_ => Random.Shared.Next()).Take(needed).ToArray();
        var positions = shuffled[..(ReadWarmup + ReadSamples)];
        var byId = shuffled[(ReadWarmup + ReadSamples)..];

        // The cursor is the controller's: checked against the one the newest page answers, so that a
        // change of its format stops this scenario instead of timing 400s.
        using (var first = await client.GetAsync(new Uri($"{Routes.Executions}?limit=50", UriKind.Relative)))
        {
            first.EnsureSuccessStatusCode();
            var page = (await first.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.ExecutionList))!;
            if (page.Executions.Count != 50 || page.NextCursor is not { } next || !Decode(next).EndsWith($".{page.Executions[^1].Id:N}", StringComparison.Ordinal)
                || !Decode(next).StartsWith("e1.", StringComparison.Ordinal))
                throw new InvalidOperationException("GET /executions does not answer the keyset cursor this scenario builds (e1.<microseconds>.<id>)");
        }

        // Interleaved, so that the machine's drift (and the controller's warming up) falls on all three alike.
        var newest = new List<double>();
        var deep = new List<double>();
        var one = new List<double>();
        for (var i = 0; i < ReadWarmup + ReadSamples; i++)
        {
            await TimeAsync(client, $"{Routes.Executions}?limit=50", i < ReadWarmup ? null : newest);
            await TimeAsync(client, $"{Routes.Executions}?limit=50&cursor={Cursor(positions[i].At, positions[i].Id)}", i < ReadWarmup ? null : deep);
            await TimeAsync(client, Routes.Of(Routes.Execution, byId[i].Id), i < ReadWarmup ? null : one);
        }
        var share = $"the reading tenant has {Label(options.ScaleRows / 5)} of the {Label(options.ScaleRows)}";
        void Add(string key, string name, List<double> times, string note)
        {
            report.Add(new Figure($"scale_rows_{key}_p50_ms", $"{name}, {Rows}: p50", Percentiles.Of(times, 50), "ms", Note: note));
            report.Add(new Figure($"scale_rows_{key}_p99_ms", $"{name}, {Rows}: p99", Percentiles.Of(times, 99), "ms"));
        }
        Add("list_newest", "GET /executions, newest 50", newest, $"the harness's round trip on loopback; {share}");
        Add("list_deep", "GET /executions, 50 from a cursor at a random point", deep, $"a different point of the history for every request; {share}");
        Add("get", "GET /executions/{id} of a random execution", one, $"a different execution for every request; {share}");
    }

    /// <summary>One GET, its answer read; its time added to <paramref name="times"/> (none: a warm-up).</summary>
    private static async Task TimeAsync(HttpClient client, string path, List<double>? times)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        await response.Content.ReadAsByteArrayAsync();
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode}");
        times?.Add(ms);
    }

    /// <summary>The list's keyset cursor for a position (base64url of e1.&lt;microseconds since the epoch&gt;.&lt;id&gt;).</summary>
    private static string Cursor(DateTimeOffset at, Guid id) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"e1.{(at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10}.{id:N}"));

    private static string Decode(string cursor) => Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));

    /// <summary>Claims of a batch through the store, each then completed (timed apart); p50 and p99 of each after 10 warm-up rounds.</summary>
    private async Task<((double P50, double P99) Claim, (double P50, double P99) Complete)> ClaimsAsync(BenchDatabase db)
    {
        var queue = new QueueStore(db.DataSource);
        var lease = TimeSpan.FromSeconds(30);
        var claims = new List<double>();
        var completions = new List<double>();
        for (var i = 0; i < options.ClaimSamples + 10; i++)
        {
            var watch = Stopwatch.StartNew();
            var claimed = await queue.ClaimAsync(options.ClaimBatch, "bench-scale-claimer", null, lease, CancellationToken.None);
            var claimMs = watch.Elapsed.TotalMilliseconds;
            if (claimed.Count == 0) throw new InvalidOperationException("the claim found nothing ready: the backlog is not loaded");
            watch.Restart();
            await queue.CompleteManyAsync([.. claimed.Select(c => new Completion(c.ExecutionId, c.LeaseToken, new AttemptResult(0, null, null, true)))],
                (_, _, _) => TimeSpan.FromSeconds(1), CancellationToken.None);
            var completeMs = watch.Elapsed.TotalMilliseconds;
            if (i < 10) continue;
            claims.Add(claimMs);
            completions.Add(completeMs);
        }
        return ((Percentiles.Of(claims, 50), Percentiles.Of(claims, 99)), (Percentiles.Of(completions, 50), Percentiles.Of(completions, 99)));
    }

    private static async Task<long> ScalarAsync(BenchDatabase db, string sql)
    {
        await using var cmd = db.DataSource.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task SqlAsync(BenchDatabase db, string sql)
    {
        await using var cmd = db.DataSource.CreateCommand($"/* bench */ {sql}");
        cmd.CommandTimeout = 0;
        await cmd.ExecuteNonQueryAsync();
    }

    private static string Label(long size) => size >= 1_000_000 ? $"{size / 1_000_000.0:0.#}M" : size >= 1_000 ? $"{size / 1_000.0:0.#}k" : $"{size}";
}
