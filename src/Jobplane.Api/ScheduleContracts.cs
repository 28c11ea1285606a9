namespace Jobplane.Api;

/// <summary>
/// POST /schedules (name, a job and a timing are required) and PATCH /schedules/{id} (only the fields
/// given change). The job is named by job_id, by job (its name), or defined inline by job_definition
/// (created or updated as POST /jobs would). The timing is cron or interval_seconds, not both.
/// </summary>
public sealed record ScheduleRequest
{
    public string? Name { get; init; }
    public Guid? JobId { get; init; }
    /// <summary>The tenant's job of this name.</summary>
    public string? Job { get; init; }
    /// <summary>A job definition, created or updated (by name) with the schedule.</summary>
    public CreateJobRequest? JobDefinition { get; init; }
    /// <summary>Five fields, six with leading seconds, or @yearly/@monthly/@weekly/@daily/@hourly/@every_minute/@every_second.</summary>
    public string? Cron { get; init; }
    public int? IntervalSeconds { get; init; }
    /// <summary>IANA name; default UTC. Cron fields are read in this zone.</summary>
    public string? TimeZone { get; init; }
    public DateTimeOffset? StartsAt { get; init; }
    public DateTimeOffset? EndsAt { get; init; }
    /// <summary>skip, fire_once (default) or catch_up.</summary>
    public string? Misfire { get; init; }
    /// <summary>With misfire catch_up: the most missed due times fired after one outage (1..1000).</summary>
    public int? CatchUpMax { get; init; }
    /// <summary>allow (default), skip, queue or cancel.</summary>
    public string? Overlap { get; init; }
    public Priority? Priority { get; init; }
    /// <summary>Seconds an attempt may run; default: the job's.</summary>
    public int? Timeout { get; init; }
    /// <summary>Each execution fired takes the Idempotency-Key prefix + its due time (RFC 3339, UTC).</summary>
    public string? IdempotencyKeyPrefix { get; init; }
    public bool? Paused { get; init; }
}

public sealed record ScheduleView
{
    public required Guid Id { get; init; }
    public required string Name { get; init; }
    public required Guid JobId { get; init; }
    public required string JobName { get; init; }
    public string? Cron { get; init; }
    public int? IntervalSeconds { get; init; }
    public required string TimeZone { get; init; }
    public DateTimeOffset? StartsAt { get; init; }
    public DateTimeOffset? EndsAt { get; init; }
    public required string Misfire { get; init; }
    public required int CatchUpMax { get; init; }
    public required string Overlap { get; init; }
    public Priority? Priority { get; init; }
    public int? Timeout { get; init; }
    public string? IdempotencyKeyPrefix { get; init; }
    /// <summary>active, paused, or ended (no due time left before ends_at).</summary>
    public required string State { get; init; }
    public DateTimeOffset? PausedAt { get; init; }
    /// <summary>The earliest due time not yet handled.</summary>
    public DateTimeOffset? NextDueAt { get; init; }
    /// <summary>The next five due times from next_due_at, so the user sees what the expression means.</summary>
    public required IReadOnlyList<DateTimeOffset> NextFireTimes { get; init; }
    public DateTimeOffset? LastDueAt { get; init; }
    public Guid? LastExecutionId { get; init; }
    /// <summary>With overlap queue: the due time waiting for the previous run to finish.</summary>
    public DateTimeOffset? QueuedDueAt { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
}

public sealed record ScheduleList(IReadOnlyList<ScheduleView> Schedules, int Limit, int Offset)
{
    public string? NextCursor { get; init; }
}

/// <summary>One entry of a schedule's history: a due time handled (fired, skipped or queued) or a manual trigger.</summary>
public sealed record ScheduleFireView
{
    public required long Id { get; init; }
    public required DateTimeOffset DueAt { get; init; }
    /// <summary>schedule or manual.</summary>
    public required string Trigger { get; init; }
    /// <summary>fired, skipped or queued.</summary>
    public required string Outcome { get; init; }
    public Guid? ExecutionId { get; init; }
    /// <summary>The execution's status now; absent once retention deleted it.</summary>
    public string? ExecutionStatus { get; init; }
    public string? Reason { get; init; }
    /// <summary>How many due times this entry stands for (missed due times skipped together are one entry).</summary>
    public required int Missed { get; init; }
    public required DateTimeOffset FiredAt { get; init; }
    /// <summary>From the due time to the firing, in milliseconds (fired entries of the schedule).</summary>
    public double? LatenessMs { get; init; }
}

/// <summary>A page of a schedule's history, newest first; pass next_before_id as before_id for the next page (absent: the last page).</summary>
public sealed record ScheduleHistory(IReadOnlyList<ScheduleFireView> Fires)
{
    public long? NextBeforeId { get; init; }
}

public sealed record ScheduleTriggerResponse(Guid ScheduleId, Guid ExecutionId, DateTimeOffset At);
