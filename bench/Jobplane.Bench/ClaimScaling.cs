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
    private BacklogSeeder _seeder = null!;
    private long _claimed;

    public async Task RunAsync()
    {
        Console.WriteLine($"\n== claim latency as the backlog grows (batches of {options.ClaimBatch}, {options.ClaimSamples} claims per size)");
        var tenant = await new TenantStore(db.DataSource).CreateAsync(new TenantSettings { Name = "bench-claims" }, CancellationToken.None);
        var (jobId, _) = await new JobStore(db.DataSource).UpsertAsync(tenant.TenantId,
            new JobSpec("bench-claim", "exec", ["true"], 3600, Priority.Normal, 3), CancellationToken.None);
        _seeder = new BacklogSeeder(db, tenant.TenantId, jobId);
        var queue = new QueueStore(db.DataSource);

        var results = new List<(string Label, double P50, double P99)>();
        foreach (var size in options.ClaimBacklogs.Order())
        {
            var watch = Stopwatch.StartNew();
            await _seeder.InsertAsync(size - (_seeder.Inserted - _claimed), "PENDING");
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
        await _seeder.InsertAsync(1_000, "PENDING");
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
            await _seeder.InsertAsync(claimed.Count, "PENDING");
        }
        return (Percentiles.Of(samples, 50), Percentiles.Of(samples, 99));
    }

    /// <summary>What autovacuum would have done by the time a real backlog of this size had built up.</summary>
    private async Task VacuumAsync()
    {
        await using var cmd = db.DataSource.CreateCommand("/* bench */ vacuum analyze executions, ready_queue, tenant_sched, execution_attempts");
        cmd.CommandTimeout = 0;
        await cmd.ExecuteNonQueryAsync();
    }
}
