using System.Diagnostics;
using Jobplane.Api;
using Jobplane.Store;
using Npgsql;

namespace Jobplane.Bench;

/// <summary>
/// Claim latency as the backlog grows: rows are inserted straight into the real schema (executions,
/// ready_queue, with its trigger activating the tenant), then <see cref="QueueStore.ClaimAsync"/> is
/// timed. After each claim as many new executions are queued (untimed), so the backlog stays at
/// its size and the queue sees the churn a real one does. Then the same with most rows waiting in
/// the future (SCHEDULED or RETRYING) and only a few ready.
/// </summary>
public sealed class ClaimScaling(BenchOptions options, BenchDatabase db, Report report)
{
    private Guid _tenantId;
    private Guid _jobId;
    private long _inserted;
    private long _claimed;

    public async Task RunAsync()
    {
        Console.WriteLine($"\n== claim latency as the backlog grows (batches of {options.ClaimBatch}, {options.ClaimSamples} claims per size)");
        var tenant = await new TenantStore(db.DataSource).CreateAsync(new TenantSettings { Name = "bench-claims" }, CancellationToken.None);
        _tenantId = tenant.TenantId;
        (_jobId, _) = await new JobStore(db.DataSource).UpsertAsync(_tenantId,
            new JobSpec("bench-claim", "exec", ["true"], 3600, Priority.Normal, 3), CancellationToken.None);
        var queue = new QueueStore(db.DataSource);

        var results = new List<(string Label, double P50, double P99)>();
        foreach (var size in options.ClaimBacklogs.Order())
        {
            var watch = Stopwatch.StartNew();
            await InsertAsync(size - (_inserted - _claimed), "PENDING");
            await VacuumAsync();
            Console.WriteLine($"  backlog of {size:N0} ready rows loaded in {watch.Elapsed.TotalSeconds:0.0} s");
            var (p50, p99) = await MeasureAsync(queue);
            results.Add(($"{size:N0} ready", p50, p99));
            report.Add(new Figure($"claim_p50_ms_{size}", $"Claim latency p50, {Label(size)} ready", p50, "ms"));
            report.Add(new Figure($"claim_p99_ms_{size}", $"Claim latency p99, {Label(size)} ready", p99, "ms"));
        }

        // Most rows waiting for their time (scheduled or retrying), few ready: only ready rows may cost the claim anything.
        var largest = options.ClaimBacklogs.Max();
        var waitWatch = Stopwatch.StartNew();
        await using (var cmd = db.DataSource.CreateCommand("""
            /* bench */ with gone as (delete from ready_queue returning execution_id)
            update executions e set status = case when random() < 0.5 then 'SCHEDULED' else 'RETRYING' end,
                scheduled_at = now() + interval '1 day' * random(), attempt = case when random() < 0.5 then 0 else 1 end
            from gone where e.id = gone.execution_id
            """))
        {
            cmd.CommandTimeout = 0;
            await cmd.ExecuteNonQueryAsync();
        }
        await InsertAsync(1_000, "PENDING");
        await VacuumAsync();
        Console.WriteLine($"  {largest:N0} rows moved to the future, 1,000 ready, in {waitWatch.Elapsed.TotalSeconds:0.0} s");
        var (wp50, wp99) = await MeasureAsync(queue);
        report.Add(new Figure("claim_p50_ms_waiting", $"Claim latency p50, {Label(largest)} waiting + 1k ready", wp50, "ms"));
        report.Add(new Figure("claim_p99_ms_waiting", $"Claim latency p99, {Label(largest)} waiting + 1k ready", wp99, "ms"));

        var smallest = results[0];
        var biggest = results[^1];
        var ratio = biggest.P50 / smallest.P50;
        report.Add(new Figure("claim_ratio_largest_to_1k", $"Claim p50 at {Label(largest)} ready / at {Label(options.ClaimBacklogs.Min())}",
            ratio, "x", Target.Max(2),
            "The claim's own work is per claimed row (index probes), but at 1M rows executions and its indexes no longer " +
            "fit PostgreSQL's shared_buffers (128 MB by default), so those probes read from the OS cache; dead index " +
            "entries left by churn until vacuum add to it. Measured on a loaded machine, so part of it is noise."));
        report.Add(new Figure("claim_ratio_waiting_to_1k", $"Claim p50 with {Label(largest)} waiting / with {Label(options.ClaimBacklogs.Min())} ready",
            wp50 / smallest.P50, "x", Target.Max(2), "Waiting rows are not in ready_queue; a miss here is noise or a larger executions heap to update."));
    }

    private static string Label(int size) => size >= 1_000_000 ? $"{size / 1_000_000}M" : size >= 1_000 ? $"{size / 1_000}k" : $"{size}";

    private async Task<(double P50, double P99)> MeasureAsync(QueueStore queue)
    {
        var lease = TimeSpan.FromSeconds(30);
        var samples = new List<double>();
        for (var i = 0; i < options.ClaimSamples + 10; i++)
        {
            var watch = Stopwatch.StartNew();
            var claimed = await queue.ClaimAsync(options.ClaimBatch, "bench-claimer", null, lease, CancellationToken.None);
            var ms = watch.Elapsed.TotalMilliseconds;
            if (i >= 10) samples.Add(ms);
            _claimed += claimed.Count;
            if (claimed.Count == 0) throw new InvalidOperationException("the claim found nothing ready: the backlog is not loaded");
            // New work arrives as fast as it is claimed (untimed): the backlog keeps its size and the
            // queue sees a real queue's churn, dead rows at the head and fresh ones at the tail.
            await InsertAsync(claimed.Count, "PENDING");
        }
        return (Percentiles.Of(samples, 50), Percentiles.Of(samples, 99));
    }

    /// <summary>
    /// Inserts executions in chunks, with time-ordered ids like the platform's own (UUIDv7), due
    /// times spread over the past hour and three priorities; ready ones also go into ready_queue.
    /// </summary>
    private async Task InsertAsync(long count, string status)
    {
        const int Chunk = 100_000;
        for (long done = 0; done < count;)
        {
            var n = (int)Math.Min(Chunk, count - done);
            await using var cmd = db.DataSource.CreateCommand("""
                /* bench */ with ins as (
                    insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at)
                    select (lpad(to_hex((extract(epoch from now()) * 1000)::bigint), 12, '0') || '7'
                            || lpad(to_hex($4 + g), 15, '0') || substr(md5(g::text), 1, 4))::uuid,
                           $1, $2, $5, (g % 3) * 25 + 25, 3600, 3,
                           case when $3 > 1000 then now() - interval '1 hour' * random() else now() end
                    from generate_series(1, $3) g
                    returning id, tenant_id, job_id, priority, scheduled_at, status
                )
                insert into ready_queue (execution_id, tenant_id, priority, ready_at,
                                         runtime_class, network, run_as_root, memory_mib, cpus, pids)
                select ins.id, ins.tenant_id, ins.priority, ins.scheduled_at,
                       case when j.image = 'exec' then 'exec' else 'container' end, j.network, j.run_as_root,
                       (j.memory_limit_bytes >> 20)::integer, j.cpu_limit, j.pids_limit::integer
                from ins join jobs j on j.id = ins.job_id where ins.status = 'PENDING'
                """);
            cmd.CommandTimeout = 0;
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _tenantId });
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _jobId });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = n });
            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _inserted });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = status });
            await cmd.ExecuteNonQueryAsync();
            done += n;
            _inserted += n;
        }
    }

    /// <summary>What autovacuum would have done by the time a real backlog of this size had built up.</summary>
    private async Task VacuumAsync()
    {
        await using var cmd = db.DataSource.CreateCommand("/* bench */ vacuum analyze executions, ready_queue, tenant_sched, execution_attempts");
        cmd.CommandTimeout = 0;
        await cmd.ExecuteNonQueryAsync();
    }
}
