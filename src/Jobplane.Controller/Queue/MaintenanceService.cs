using Jobplane.Store;

namespace Jobplane.Controller.Queue;

/// <summary>
/// Promotes scheduled runs and retries that are due, rescues executions whose lease expired, forgets
/// old idempotency keys and stops the claim visiting tenants that no longer have ready work.
/// Every replica runs it; the statements use SKIP LOCKED, so replicas share the work instead of
/// fighting over it, and nothing depends on a particular replica being alive.
/// </summary>
public sealed partial class MaintenanceService(
    QueueStore queue, ControllerOptions options, TimeProvider time, ILogger<MaintenanceService> logger,
    ControllerMetrics? metrics = null, WorkerStore? workers = null) : BackgroundService
{
    private const int BatchSize = 1000;

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

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rescued {Count} executions whose lease expired")]
    private partial void LogRescued(int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Queue maintenance failed; retrying at the next tick")]
    private partial void LogFailed(Exception e);
}
