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
/// </summary>
public sealed class ClaimTenants(BenchOptions options, BenchDatabase db, Report report)
{
    private readonly List<(Guid Tenant, Guid Job)> _tenants = [];
    private long _inserted;

    public async Task RunAsync()
    {
        var fleet = options.ClaimFleetWorkers * options.ClaimFleetSlots;
        Console.WriteLine($"\n== claim latency with {options.ClaimTenants} tenants on a full fleet of {fleet} slots " +
            $"({options.ClaimFleetWorkers} workers x {options.ClaimFleetSlots}), batches of {options.ClaimTenantBatch}");
        var tenants = new TenantStore(db.DataSource);
        var jobs = new JobStore(db.DataSource);
        for (var i = 0; i < options.ClaimTenants; i++)
        {
            var tenant = await tenants.CreateAsync(new TenantSettings { Name = $"bench-tenant-{i:D3}" }, CancellationToken.None);
            var (job, _) = await jobs.UpsertAsync(tenant.TenantId,
                new JobSpec("bench-claim", "exec", ["true"], 3600, Priority.Normal, 3), CancellationToken.None);
            _tenants.Add((tenant.TenantId, job));
            await InsertAsync(tenant.TenantId, job, options.ClaimTenantBacklog);
        }
        await AnnounceFleetAsync();
        await VacuumAsync();

        var queue = new QueueStore(db.DataSource);
        var lease = TimeSpan.FromSeconds(30);
        // Fill the fleet first (untimed): every slot busy, as on a platform with a backlog.
        var running = 0;
        while (running < fleet)
        {
            var claimed = await queue.ClaimAsync(Math.Min(options.ClaimTenantBatch, fleet - running), "bench-fill", null, lease, CancellationToken.None);
            if (claimed.Count == 0) throw new InvalidOperationException("the claim found nothing ready: the backlog is not loaded");
            running += claimed.Count;
            await RefillAsync(claimed);
        }
        await VacuumAsync();

        var samples = new List<double>();
        for (var i = 0; i < options.ClaimSamples + 10; i++)
        {
            await FinishOldestAsync(options.ClaimTenantBatch);
            if (i % 20 == 0) await AnnounceFleetAsync();
            var watch = Stopwatch.StartNew();
            var claimed = await queue.ClaimAsync(options.ClaimTenantBatch, $"bench-worker-{i % options.ClaimFleetWorkers}", null, lease, CancellationToken.None);
            var ms = watch.Elapsed.TotalMilliseconds;
            if (i >= 10) samples.Add(ms);
            if (claimed.Count == 0) throw new InvalidOperationException("the claim found nothing ready: the backlog is not loaded");
            await RefillAsync(claimed);
        }
        var label = $"{options.ClaimTenants} tenants, {fleet} busy slots";
        report.Add(new Figure("claim_tenants_p50_ms", $"Claim latency p50, {label}", Percentiles.Of(samples, 50), "ms"));
        report.Add(new Figure("claim_tenants_p99_ms", $"Claim latency p99, {label}", Percentiles.Of(samples, 99), "ms"));
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
    private async Task RefillAsync(IReadOnlyList<ClaimedAttempt> claimed)
    {
        foreach (var group in claimed.GroupBy(c => c.Payload.TenantId))
        {
            var job = _tenants.First(t => t.Tenant == group.Key).Job;
            await InsertAsync(group.Key, job, group.Count());
        }
    }

    private async Task InsertAsync(Guid tenant, Guid job, int count)
    {
        await using var cmd = db.DataSource.CreateCommand("""
            /* bench */ with ins as (
                insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at)
                select (lpad(to_hex((extract(epoch from now()) * 1000)::bigint), 12, '0') || '7'
                        || lpad(to_hex($4 + g), 15, '0') || substr(md5(g::text), 1, 4))::uuid,
                       $1, $2, 'PENDING', (g % 3) * 25 + 25, 3600, 3, now() - interval '1 hour' * random()
                from generate_series(1, $3) g
                returning id, tenant_id, job_id, priority, scheduled_at
            )
            insert into ready_queue (execution_id, tenant_id, priority, ready_at,
                                     runtime_class, network, run_as_root, memory_mib, cpus, pids)
            select ins.id, ins.tenant_id, ins.priority, ins.scheduled_at, 'exec', false, false, null, null, null
            from ins
            """);
        cmd.CommandTimeout = 0;
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = tenant });
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = job });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _inserted });
        await cmd.ExecuteNonQueryAsync();
        _inserted += count;
    }

    private async Task VacuumAsync()
    {
        await using var cmd = db.DataSource.CreateCommand("/* bench */ vacuum analyze executions, ready_queue, tenant_sched, workers");
        cmd.CommandTimeout = 0;
        await cmd.ExecuteNonQueryAsync();
    }
}
