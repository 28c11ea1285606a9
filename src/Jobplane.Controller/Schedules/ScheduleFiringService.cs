using Jobplane.Store.Schedules;

namespace Jobplane.Controller.Schedules;

/// <summary>
/// Fires recurring schedules. Every replica runs it; <see cref="ScheduleFirer"/> locks due schedules
/// with SKIP LOCKED, so replicas share the work, none fires a due time twice, and none is needed:
/// whichever is alive fires. Between passes it sleeps until the earliest due time it knows of (by the
/// database clock), or at most SCHEDULE_POLL_INTERVAL, so a schedule created or changed meanwhile is
/// seen within that interval.
/// </summary>
public sealed partial class ScheduleFiringService(
    ScheduleFirer firer, ControllerOptions options, TimeProvider time, ILogger<ScheduleFiringService> logger,
    ControllerMetrics? metrics = null) : BackgroundService
{
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan BusyBackoff = TimeSpan.FromMilliseconds(50);
    private long _nextPrune;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Schedules;
        if (!settings.Firing) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = settings.PollInterval;
            try
            {
                FireReport report;
                do
                {
                    report = await firer.FireDueAsync(settings.FireBatch, settings.MisfireGrace, stoppingToken);
                    metrics?.SchedulesFired(report);
                    if (report.MissedDueTimes > 0) LogMissed(report.MissedDueTimes);
                } while (report.Schedules == settings.FireBatch);
                if (time.GetTimestamp() >= _nextPrune)
                {
                    _nextPrune = time.GetTimestamp() + (long)(PruneInterval.TotalSeconds * time.TimestampFrequency);
                    while (await firer.PruneHistoryAsync(settings.HistoryRetention, 1000, stoppingToken) == 1000) { }
                }
                var (next, now) = await firer.NextDueAsync(stoppingToken);
                if (next is { } n && n - now < wait) wait = n - now;
                // Due, yet this pass took nothing: another replica holds those schedules and is firing
                // them. Looking again at once would only find them locked again until it commits.
                if (report.Schedules == 0 && wait < BusyBackoff) wait = settings.PollInterval < BusyBackoff ? settings.PollInterval : BusyBackoff;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogFailed(e);
            }
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    // A millisecond past the due time, so the database's now has reached it when we look.
                    await Task.Delay(wait + TimeSpan.FromMilliseconds(1), time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schedules missed {Count} due times (the platform could not fire them in time); their misfire policies applied")]
    private partial void LogMissed(int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Firing schedules failed; retrying after the poll interval")]
    private partial void LogFailed(Exception e);
}
