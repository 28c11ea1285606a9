namespace Jobplane.Store.Schedules;

/// <summary>What happens to due times that passed while nothing could fire them (stored words in schedules.misfire).</summary>
public enum MisfirePolicy
{
    /// <summary>Missed due times are skipped; the schedule fires again at its next due time.</summary>
    Skip,
    /// <summary>One catch-up run for all the missed due times (of the latest of them), then on as usual.</summary>
    FireOnce,
    /// <summary>Each missed due time fires, the latest <c>catch_up_max</c> of them; older ones are skipped.</summary>
    CatchUp,
}

/// <summary>What a due time does while the schedule's previous run is unfinished (stored words in schedules.overlap).</summary>
public enum OverlapPolicy
{
    /// <summary>Runs overlap freely.</summary>
    Allow,
    /// <summary>The due time is skipped while the previous run is pending or running.</summary>
    Skip,
    /// <summary>The due time waits for the previous run to finish, one at most; further ones are skipped.</summary>
    Queue,
    /// <summary>The previous run is cancelled and the new one starts.</summary>
    Cancel,
}

/// <summary>How a schedule's history row came about (schedule_fires.outcome).</summary>
public enum FireOutcome
{
    Fired,
    Skipped,
    Queued,
}

public static class SchedulePolicies
{
    public static string Word(this MisfirePolicy p) => p switch
    {
        MisfirePolicy.Skip => "skip",
        MisfirePolicy.FireOnce => "fire_once",
        MisfirePolicy.CatchUp => "catch_up",
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    public static string Word(this OverlapPolicy p) => p switch
    {
        OverlapPolicy.Allow => "allow",
        OverlapPolicy.Skip => "skip",
        OverlapPolicy.Queue => "queue",
        OverlapPolicy.Cancel => "cancel",
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    public static string Word(this FireOutcome o) => o switch
    {
        FireOutcome.Fired => "fired",
        FireOutcome.Skipped => "skipped",
        FireOutcome.Queued => "queued",
        _ => throw new ArgumentOutOfRangeException(nameof(o)),
    };

    public static readonly IReadOnlyList<string> MisfireWords = [.. Enum.GetValues<MisfirePolicy>().Select(Word)];
    public static readonly IReadOnlyList<string> OverlapWords = [.. Enum.GetValues<OverlapPolicy>().Select(Word)];

    public static MisfirePolicy? ParseMisfire(string? word) =>
        Enum.GetValues<MisfirePolicy>().Cast<MisfirePolicy?>().FirstOrDefault(p => p!.Value.Word() == word);

    public static OverlapPolicy? ParseOverlap(string? word) =>
        Enum.GetValues<OverlapPolicy>().Cast<OverlapPolicy?>().FirstOrDefault(p => p!.Value.Word() == word);

    public static FireOutcome ParseOutcome(string word) =>
        Enum.GetValues<FireOutcome>().First(o => o.Word() == word);
}

/// <summary>A schedule as a tenant defines it: which job, when, what to do with missed and overlapping runs, and run options.</summary>
public sealed record ScheduleDefinition(string Name, Guid JobId)
{
    /// <summary>A cron expression, or null for an interval schedule.</summary>
    public string? Cron { get; init; }
    /// <summary>Seconds between due times, or null for a cron schedule.</summary>
    public int? IntervalSeconds { get; init; }
    /// <summary>The IANA zone the cron expression is read in.</summary>
    public string TimeZone { get; init; } = "UTC";
    public DateTimeOffset? StartsAt { get; init; }
    public DateTimeOffset? EndsAt { get; init; }
    public MisfirePolicy Misfire { get; init; } = MisfirePolicy.FireOnce;
    /// <summary>With <see cref="MisfirePolicy.CatchUp"/>: the most missed due times fired after one outage.</summary>
    public int CatchUpMax { get; init; } = 1;
    public OverlapPolicy Overlap { get; init; } = OverlapPolicy.Allow;
    public int? Priority { get; init; }
    public int? TimeoutSeconds { get; init; }
    /// <summary>Each fired execution takes the Idempotency-Key prefix + its due time (RFC 3339, UTC).</summary>
    public string? IdempotencyPrefix { get; init; }
    public bool Paused { get; init; }

    /// <summary>The timing this definition describes; the anchor of an interval is its start, or else <paramref name="createdAt"/>.</summary>
    public ScheduleTiming? Timing(DateTimeOffset createdAt, out string? problem)
    {
        if (Cron is not null) return ScheduleTiming.Cron(Cron, TimeZone, StartsAt, EndsAt, out problem);
        if (ScheduleTiming.FindZone(TimeZone, out problem) is null) return null;
        problem = null;
        return ScheduleTiming.Every(TimeSpan.FromSeconds(IntervalSeconds ?? 0), StartsAt ?? createdAt, StartsAt, EndsAt);
    }
}

/// <summary>A stored schedule and where it stands.</summary>
public sealed record ScheduleRecord(Guid Id, Guid TenantId, ScheduleDefinition Definition, string JobName,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public DateTimeOffset? PausedAt { get; init; }
    public DateTimeOffset? NextDueAt { get; init; }
    public DateTimeOffset? LastDueAt { get; init; }
    public Guid? LastExecutionId { get; init; }
    public DateTimeOffset? QueuedDueAt { get; init; }

    public ScheduleTiming Timing() => Definition.Timing(CreatedAt, out _)
        ?? throw new InvalidOperationException($"schedule {Id} holds a timing that no longer parses");
}

/// <summary>One row of a schedule's history: a due time handled, or a manual trigger.</summary>
public sealed record ScheduleFireRecord(long Id, DateTimeOffset DueAt, string Trigger, FireOutcome Outcome, Guid? ExecutionId,
    string? ExecutionStatus, string? Reason, int Missed, DateTimeOffset FiredAt);

/// <summary>Why a schedule could not be created or changed.</summary>
public enum ScheduleRefusal
{
    None,
    JobNotFound,
    NameTaken,
    TooMany,
}

/// <summary>
/// What one firing pass did, for metrics and logs. <see cref="OnTimeLateness"/> runs from each due
/// time to the commit that made its execution visible to workers.
/// </summary>
public sealed record FireReport(int Schedules, int Fired, int Skipped, int Queued, int MissedDueTimes, int Cancelled,
    IReadOnlyList<TimeSpan> OnTimeLateness);
