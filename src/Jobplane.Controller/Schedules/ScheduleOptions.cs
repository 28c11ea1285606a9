using Jobplane.Api;

namespace Jobplane.Controller.Schedules;

/// <summary>The operator's settings for recurring schedules, read with the rest of <see cref="ControllerOptions"/>.</summary>
public sealed record ScheduleOptions
{
    /// <summary>Schedules one tenant may hold (MAX_SCHEDULES_PER_TENANT).</summary>
    public int MaxPerTenant { get; init; } = 100;
    /// <summary>
    /// The shortest time allowed between two due times of a schedule (SCHEDULE_MIN_INTERVAL): an
    /// interval, or the shortest gap among a cron expression's next 100 due times.
    /// </summary>
    public TimeSpan MinInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// A due time not fired within this long of its time was missed (SCHEDULE_MISFIRE_GRACE), and
    /// its schedule's misfire policy decides what it does. A healthy firer is milliseconds late.
    /// </summary>
    public TimeSpan MisfireGrace { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Longest a firer sleeps before looking again (SCHEDULE_POLL_INTERVAL); it wakes sooner for a due time it knows of.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Schedules locked and fired per transaction (SCHEDULE_FIRE_BATCH).</summary>
    public int FireBatch { get; init; } = 200;
    /// <summary>How long schedule history is kept (SCHEDULE_HISTORY_RETENTION).</summary>
    public TimeSpan HistoryRetention { get; init; } = TimeSpan.FromDays(30);
    /// <summary>Whether this replica fires schedules at all (SCHEDULE_FIRING); every replica does by default.</summary>
    public bool Firing { get; init; } = true;

    public static ScheduleOptions Read(SettingReader read)
    {
        var options = new ScheduleOptions
        {
            MaxPerTenant = read.Int("MAX_SCHEDULES_PER_TENANT", 100, 0, 100_000),
            MinInterval = read.Duration("SCHEDULE_MIN_INTERVAL", TimeSpan.FromSeconds(10)),
            MisfireGrace = read.Duration("SCHEDULE_MISFIRE_GRACE", TimeSpan.FromSeconds(15)),
            PollInterval = read.Duration("SCHEDULE_POLL_INTERVAL", TimeSpan.FromSeconds(1)),
            FireBatch = read.Int("SCHEDULE_FIRE_BATCH", 200, 1, 10_000),
            HistoryRetention = read.Duration("SCHEDULE_HISTORY_RETENTION", TimeSpan.FromDays(30)),
            Firing = read.String("SCHEDULE_FIRING")?.ToLowerInvariant() is not ("false" or "0" or "no" or "off"),
        };
        if (read.String("SCHEDULE_FIRING")?.ToLowerInvariant() is { } f && f is not ("true" or "1" or "yes" or "on" or "false" or "0" or "no" or "off"))
            read.Error($"SCHEDULE_FIRING must be true or false (got '{f}')");
        if (options.MinInterval < TimeSpan.FromSeconds(1)) read.Error("SCHEDULE_MIN_INTERVAL must be at least 1s (cron's finest field is seconds)");
        if (options.MisfireGrace < TimeSpan.FromSeconds(1) || options.MisfireGrace > TimeSpan.FromHours(1))
            read.Error("SCHEDULE_MISFIRE_GRACE must be between 1s and 1h");
        if (options.PollInterval < TimeSpan.FromMilliseconds(10) || options.PollInterval > TimeSpan.FromMinutes(1))
            read.Error("SCHEDULE_POLL_INTERVAL must be between 10ms and 1m");
        if (options.HistoryRetention < TimeSpan.FromHours(1)) read.Error("SCHEDULE_HISTORY_RETENTION must be at least 1h");
        return options;
    }
}
