using System.Diagnostics;
using Jobplane.Api;
using Jobplane.Store;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// Claim latency with many tenants competing for a busy fleet: the case where the claim does the
/// most per tenant (every candidate is looked at, and the fleet's share cap needs each one's running
/// count). Tenants each keep a ready backlog; a fleet of announced workers is recorded in the
/// workers table as the controller records it; before each timed claim the oldest running
/// executions finish (untimed), as many as the claim then asks for, so the fleet stays full, and
/// after it as many new executions are queued, so backlogs keep their size.
/// <para>Fairness, over the timed claims: how many executions each tenant got. All tenants have
/// weight 1 and ready work throughout, so stride scheduling should give each the same number,
/// claims x batch / tenants (the window is rounded up to whole turns so that this is a whole
/// number); a window that starts part-way through a turn can leave a tenant one above or below it.
/// Reported as the coefficient of variation of the per-tenant counts and their max / min.</para>
/// <para>Tenants, jobs and backlogs are written set-based (one statement per table), so that a
/// thousand tenants seed as fast as sixteen.</para>
/// </summary>
public sealed class ClaimTenants(BenchOptions options, BenchDatabase db, Report report)
{
    private readonly Dictionary<Guid, Guid> _jobOf = [];
    private long _inserted;

    /// <summary>The claims group's scenario: BENCH_CLAIM_TENANTS tenants with BENCH_CLAIM_TENANT_BACKLOG ready each.</summary>
    public Task RunAsync() => RunAsync(options.ClaimTenants, options.ClaimTenantBacklog, options.ClaimSamples, "claim_tenants", null);

    /// <summary>
    /// <paramref name="tenantCount"/> tenants with <paramref name="backlog"/> ready executions each;
    /// at least <paramref name="claims"/> timed claims (more when whole turns need more). Figures are
    /// keyed <paramref name="key"/>_p50_ms, _p99_ms, _fairness_cv_pct and _fairness_max_min.
    /// </summary>
    public async Task RunAsync(int tenantCount, int backlog, int claims, string key, string? labelNote)
    {
        var fleet = options.ClaimFleetWorkers * options.ClaimFleetSlots;
        var batch = options.ClaimTenantBatch;
        // Whole turns: claims x batch a multiple of the tenants, so every tenant's fair count is whole.
        var turn = tenantCount / (int)System.Numerics.BigInteger.GreatestCommonDivisor(tenantCount, batch);
        claims = (claims + turn - 1) / turn * turn;
        Console.WriteLine($"\n== claim latency with {tenantCount:N0} tenants on a full fleet of {fleet} slots " +
            $"({options.ClaimFleetWorkers} workers x {options.ClaimFleetSlots}), batches of {batch}, {claims} timed claims");
        var seed = Stopwatch.StartNew();
        await SeedTenantsAsync(tenantCount);
        await InsertAsync(_jobOf.Select(t => (t.Key, backlog)).ToList());
        await AnnounceFleetAsync();
        await VacuumAsync();
        Console.WriteLine($"  {tenantCount:N0} tenants with {backlog:N0} ready each written in {seed.Elapsed.TotalSeconds:0.0} s");

        var queue = new QueueStore(db.DataSource);
        var lease = TimeSpan.FromSeconds(30);
        // Fill the fleet first (untimed): every slot busy, as on a platform with a backlog.
        var running = 0;
        while (running < fleet)
        {
            var claimed = await queue.ClaimAsync(Math.Min(batch, fleet - running), "bench-fill", null, lease, CancellationToken.None);
            if (claimed.Count == 0) throw new InvalidOperationException("the claim found nothing ready: the backlog is not loaded");
            running += claimed.Count;
            await RefillAsync(claimed);
        }
        await VacuumAsync();

        const int Warmup = 10;
        var samples = new List<double>();
        var got = _jobOf.Keys.ToDictionary(t => t, _ => 0);
        for (var i = 0; i < claims + Warmup; i++)
        {
            await FinishOldestAsync(batch);
            if (i % 20 == 0) await AnnounceFleetAsync();
            var watch = Stopwatch.StartNew();
            var claimed = await queue.ClaimAsync(batch, $"bench-worker-{i % options.ClaimFleetWorkers}", null, lease, CancellationToken.None);
            var ms = watch.Elapsed.TotalMilliseconds;
            if (claimed.Count == 0) throw new InvalidOperationException("the claim found nothing ready: the backlog is not loaded");
            if (i >= Warmup)
            {
                samples.Add(ms);
                foreach (var c in claimed) got[c.Payload.TenantId]++;
            }
            await RefillAsync(claimed);
        }
        var label = $"{tenantCount:N0} tenants, {fleet} busy slots{labelNote}";
        report.Add(new Figure($"{key}_p50_ms", $"Claim latency p50, {label}", Percentiles.Of(samples, 50), "ms"));
        report.Add(new Figure($"{key}_p99_ms", $"Claim latency p99, {label}", Percentiles.Of(samples, 99), "ms"));

        var counts = got.Values.Select(v => (double)v).ToArray();
        var mean = counts.Average();
        var sd = Math.Sqrt(counts.Sum(c => (c - mean) * (c - mean)) / counts.Length);
        var (min, max) = (counts.Min(), counts.Max());
        var spread = $"fair count {mean:0.##} per tenant ({claims} claims x {batch} / {tenantCount:N0}); got {min:0} to {max:0}, " +
            $"{counts.Count(c => c == 0)} tenants none";
        report.Add(new Figure($"{key}_fairness_cv_pct", $"Fairness, {tenantCount:N0} tenants of equal weight: coefficient of variation of executions claimed per tenant",
            sd / mean * 100, "%", Note: spread));
        if (min > 0)
            report.Add(new Figure($"{key}_fairness_max_min", $"Fairness, {tenantCount:N0} tenants of equal weight: most / fewest executions claimed by one tenant",
                max / min, "x", Note: spread));
        else
            report.Note($"fairness ({key}): some tenant got nothing over the window, so max / min is not reported; {spread}");
    }

    /// <summary>Tenants of weight 1 (the trigger on tenants gives each its scheduling row) and one exec job each.</summary>
    private async Task SeedTenantsAsync(int count)
    {
        var tenants = Enumerable.Range(0, count).Select(_ => Guid.CreateVersion7()).ToArray();
        var jobs = tenants.Select(_ => Guid.CreateVersion7()).ToArray();
        await using var batch = db.DataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            /* bench */ insert into tenants (id, name)
            select id, 'bench-tenant-' || lpad(n::text, 5, '0') from unnest($1::uuid[]) with ordinality as u(id, n)
            """) { Parameters = { new NpgsqlParameter<Guid[]> { TypedValue = tenants } } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            /* bench */ insert into jobs (id, tenant_id, name, image, command, timeout_seconds, priority, max_attempts)
            select j, t, 'bench-claim', 'exec', array['true'], 3600, $3, 3 from unnest($1::uuid[], $2::uuid[]) as u(t, j)
            """)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid[]> { TypedValue = tenants },
                new NpgsqlParameter<Guid[]> { TypedValue = jobs },
                new NpgsqlParameter<short> { TypedValue = (short)Priority.Normal.Value },
            },
        });
        await batch.ExecuteNonQueryAsync();
        for (var i = 0; i < count; i++) _jobOf[tenants[i]] = jobs[i];
    }

    /// <summary>
    /// Records the fleet in the workers table as the controller's registry does for dequeuing
    /// workers, each announcing its slots (where the schema has the column: the same scenario then
    /// measures the claim before the fleet share existed).
    /// </summary>
    private async Task AnnounceFleetAsync()
    {
        await using (var check = db.DataSource.CreateCommand(
            "select exists (select 1 from information_schema.columns where table_name = 'workers' and column_name = 'slots')"))
        {
            var hasSlots = (bool)(await check.ExecuteScalarAsync())!;
            await using var cmd = db.DataSource.CreateCommand(hasSlots
                ? """
                  /* bench */ insert into workers (worker_id, runtime, runtime_classes, slots, seen_at)
                  select 'bench-worker-' || g, null, array['exec', 'container'], $2, now() from generate_series(0, $1 - 1) g
                  on conflict (worker_id) do update set seen_at = now(), slots = excluded.slots
                  """
                : """
                  /* bench */ insert into workers (worker_id, runtime, runtime_classes, seen_at)
                  select 'bench-worker-' || g, null, array['exec', 'container'], now() from generate_series(0, $1 - 1) g
                  on conflict (worker_id) do update set seen_at = now()
                  """);
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = options.ClaimFleetWorkers });
            if (hasSlots) cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = options.ClaimFleetSlots });
            await cmd.ExecuteNonQueryAsync();
        }
    }

    /// <summary>The oldest running executions succeed, as workers finishing jobs would leave them.</summary>
    private async Task FinishOldestAsync(int count)
    {
        await using var cmd = db.DataSource.CreateCommand("""
            /* bench */ with done as (
                update executions set status = 'SUCCEEDED', completed_at = now(), lease_token = null, lease_expires_at = null
                where id in (select id from executions where status = 'RUNNING' order by started_at, id limit $1)
                returning id, attempt
            )
            -- Their attempts end too: an open attempt is what counts as running.
            update execution_attempts a set ended_at = now(), exit_code = 0, outcome = 'succeeded'
            from done where a.execution_id = done.id and a.attempt = done.attempt
            """);
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Queues as many new executions for each tenant as the claim took of it.</summary>
    private Task RefillAsync(IReadOnlyList<ClaimedAttempt> claimed) =>
        InsertAsync([.. claimed.GroupBy(c => c.Payload.TenantId).Select(g => (g.Key, g.Count()))]);

    /// <summary>Ready executions for each tenant (with its job), in one statement whatever the number of tenants.</summary>
    private async Task InsertAsync(IReadOnlyList<(Guid Tenant, int Count)> counts)
    {
        await using var cmd = db.DataSource.CreateCommand("""
            /* bench */ with wanted as (
                select u.tenant_id, u.job_id, row_number() over () as g
                from unnest($1::uuid[], $2::uuid[], $3::int[]) as u(tenant_id, job_id, n), generate_series(1, u.n)
            ), ins as (
                insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at)
                select (lpad(to_hex((extract(epoch from now()) * 1000)::bigint), 12, '0') || '7'
                        || lpad(to_hex($4 + g), 15, '0') || substr(md5(g::text), 1, 4))::uuid,
                       tenant_id, job_id, 'PENDING', (g % 3) * 25 + 25, 3600, 3, now() - interval '1 hour' * random()
                from wanted
                returning id, tenant_id, job_id, priority, scheduled_at
            )
            insert into ready_queue (execution_id, tenant_id, priority, ready_at,
                                     runtime_class, network, run_as_root, memory_mib, cpus, pids)
            select ins.id, ins.tenant_id, ins.priority, ins.scheduled_at, 'exec', false, false, null, null, null
            from ins
            """);
        cmd.CommandTimeout = 0;
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. counts.Select(c => c.Tenant)] });
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. counts.Select(c => _jobOf[c.Tenant])] });
        cmd.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. counts.Select(c => c.Count)] });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _inserted });
        await cmd.ExecuteNonQueryAsync();
        _inserted += counts.Sum(c => (long)c.Count);
    }

    private async Task VacuumAsync()
    {
        await using var cmd = db.DataSource.CreateCommand("/* bench */ vacuum analyze executions, ready_queue, tenant_sched, workers");
        cmd.CommandTimeout = 0;
        await cmd.ExecuteNonQueryAsync();
    }
}
