using Jobplane.Store;

namespace Jobplane.Controller.Queue;

/// <summary>
/// Promotes scheduled runs and retries that are due, rescues executions whose lease expired, vacuums
/// the ready queue after a burst of claims, forgets old idempotency keys, stops the claim visiting
/// tenants that no longer have ready work, and deletes what has outlived its retention (finished
/// executions, dead letters, audit records).
/// Every replica runs it; the statements use SKIP LOCKED, so replicas share the work instead of
/// fighting over it, and nothing depends on a particular replica being alive.
/// </summary>
public sealed partial class MaintenanceService(
    QueueStore queue, ControllerOptions options, TimeProvider time, ILogger<MaintenanceService> logger,
    ControllerMetrics? metrics = null, WorkerStore? workers = null, RetentionStore? retention = null) : BackgroundService
{
    private const int BatchSize = 1000;

    // Rows claimed out of ready_queue after which this replica vacuums it (QueueStore.VacuumReadyQueueAfterChurnAsync),
    // at most once a tick: under a drain, a vacuum a second (a few milliseconds of PostgreSQL's time on a
    // table of queued rows); after a burst, the last of its dead entries within a second, not at
    // autovacuum's next round; on a quiet queue, rarely.
    internal const long ReadyQueueChurn = 1_000;

    // When the next retention pass is due (TimeProvider timestamps), and whether the last one left rows
    // behind: a backlog is worked off at every tick, a little at a time, instead of waiting an interval.
    private long _nextRetention;
    private bool _retentionBehind;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.MaintenanceInterval, time);
        do
        {
            try
            {
                int promoted, rescued;
                do
                {
                    promoted = await queue.PromoteDueAsync(BatchSize, stoppingToken);
                    rescued = await queue.RescueExpiredAsync(BatchSize, stoppingToken);
                    if (rescued > 0) LogRescued(rescued);
                    metrics?.LeasesRescued(rescued);
                } while (promoted == BatchSize || rescued == BatchSize);
                await queue.ExpireIdempotencyKeysAsync(BatchSize, stoppingToken);
                await queue.DeactivateIdleTenantsAsync(stoppingToken);
                if (workers is not null) await workers.ForgetGoneAsync(stoppingToken);
                await queue.VacuumReadyQueueAfterChurnAsync(ReadyQueueChurn, stoppingToken);
                // Last: the least urgent, and its failure must not hold up the rest.
                if (retention is not null) await RetainAsync(retention, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogFailed(e);
            }
        } while (await WaitAsync(timer, stoppingToken));
    }

    /// <summary>
    /// Deletes old rows in batches, each its own short transaction, for at most RETENTION_MAX_PERCENT
    /// of a maintenance interval per tick (at least one round), so promotion, lease rescue and the
    /// claims and submissions sharing the database are never held up long by a large backlog of old
    /// rows; what is left waits for the next tick.
    /// </summary>
    private async Task RetainAsync(RetentionStore store, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        if (!_retentionBehind && started < _nextRetention) return;
        if (!_retentionBehind) _nextRetention = started + (long)(options.RetentionInterval.TotalSeconds * time.TimestampFrequency);
        var round = await store.DeleteRoundAsync(options.Retention, options.RetentionBatchSize,
            options.MaintenanceInterval * (options.RetentionMaxPercent / 100.0), time, ct);
        _retentionBehind = round.Behind;
        if (round.Executions + round.DeadLetters + round.Audit > 0)
            LogRetained(round.Executions, round.DeadLetters, round.Audit, round.Behind);
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rescued {Count} executions whose lease expired")]
    private partial void LogRescued(int count);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Retention deleted {Executions} executions, {DeadLetters} dead letters and {Audit} audit records (more left: {Behind})")]
    private partial void LogRetained(int executions, int deadLetters, int audit, bool behind);

    [LoggerMessage(Level = LogLevel.Error, Message = "Queue maintenance failed; retrying at the next tick")]
    private partial void LogFailed(Exception e);
}
