namespace Jobplane.Store.Schedules;

/// <summary>One schedule as the firer found it, locked, at the database's <c>now</c>.</summary>
public sealed record DueSchedule(Guid Id, ScheduleTiming Timing, MisfirePolicy Misfire, int CatchUpMax, OverlapPolicy Overlap)
{
    public DateTimeOffset? NextDueAt { get; init; }
    /// <summary>Due times before this are missed whatever the grace (set on resume).</summary>
    public DateTimeOffset? MissedBefore { get; init; }
    public DateTimeOffset? QueuedDueAt { get; init; }
    public Guid? LastExecutionId { get; init; }
    /// <summary>The last run's status while it is unfinished; null when it finished (or there is none).</summary>
    public string? LastRunUnfinished { get; init; }
}

/// <summary>What to do with one due time.</summary>
public sealed record FireDecision(DateTimeOffset DueAt, FireOutcome Outcome)
{
    /// <summary>The execution to create (Fired only).</summary>
    public Guid? ExecutionId { get; init; }
    public string? Reason { get; init; }
    /// <summary>How many due times the row stands for (a run of skipped missed ones is one row).</summary>
    public int Missed { get; init; } = 1;
    /// <summary>Fired within the grace of its due time (not a catch-up): what lateness is measured on.</summary>
    public bool OnTime { get; init; }
    /// <summary>A due time that was queued earlier and fires now: its queued row is replaced.</summary>
    public bool FromQueue { get; init; }
}

/// <summary>
/// The decisions for one schedule at one instant, and the schedule's new state. Pure: given the same
/// row and the same database time, every controller plans the same, so correctness never rests on
/// which one fires (and the unique key on due times turns a second firing into an error, not a run).
/// </summary>
public sealed record FirePlan(IReadOnlyList<FireDecision> Decisions, DateTimeOffset? NextDueAt, DateTimeOffset? LastDueAt,
    Guid? LastExecutionId, DateTimeOffset? QueuedDueAt, Guid? CancelExecutionId)
{
    /// <summary>Missed due times enumerated one by one at most; beyond, the oldest are skipped in one row, counted as a lower bound.</summary>
    public const int EnumerationLimit = 10_000;

    /// <summary>
    /// A due time D is on time when D ≥ max(now − grace, missed_before): it fires (subject to the
    /// overlap policy). Earlier due times were missed, whatever the length of the outage; the misfire
    /// policy decides what they do. Then the overlap policy decides, in due order, what each run does
    /// while the previous one is unfinished.
    /// </summary>
    public static FirePlan Make(DueSchedule s, DateTimeOffset now, TimeSpan grace, Func<Guid> newId)
    {
        var decisions = new List<FireDecision>();
        var boundary = now - grace;
        if (s.MissedBefore is { } mb && mb > boundary) boundary = mb;

        // Fires in due order: (due time, on time?) and the skipped rows they leave behind.
        var fires = new List<(DateTimeOffset Due, bool OnTime)>();
        DateTimeOffset? lastDue = null;
        if (s.NextDueAt is { } first && first <= now)
        {
            // Never past now: a missed_before later than the database's now (its clock stepped back
            // after a resume) must not record due times that are still to come, or the next pass
            // would plan them again and collide with their rows.
            var missedEnd = boundary - TimeSpan.FromTicks(1);
            if (missedEnd > now) missedEnd = now;
            if (first <= missedEnd)
            {
                var missed = s.Timing.Between(first, missedEnd, EnumerationLimit, out var truncated);
                var keep = s.Misfire switch
                {
                    MisfirePolicy.Skip => 0,
                    MisfirePolicy.FireOnce => 1,
                    _ => s.CatchUpMax,
                };
                // More missed due times than are worth walking one by one: the latest are found by
                // walking a window that ends at the boundary, and the rest are counted as a lower bound.
                var kept = truncated ? LatestBefore(s.Timing, first, missedEnd, keep)
                    : missed.Count <= keep ? missed : missed[^keep..];
                int skipped;
                DateTimeOffset? lastSkipped;
                if (!truncated)
                {
                    skipped = missed.Count - kept.Count;
                    lastSkipped = skipped > 0 ? missed[skipped - 1] : null;
                }
                else
                {
                    var before = kept.Count > 0 ? kept[0] - TimeSpan.FromTicks(1) : missedEnd;
                    lastSkipped = LatestBefore(s.Timing, first, before, 1) is [var l] ? l : null;
                    skipped = EnumerationLimit - kept.Count;
                }
                if (lastSkipped is { } ls && skipped > 0)
                {
                    var count = truncated ? $"more than {skipped.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)}" : skipped.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
                    decisions.Add(new FireDecision(ls, FireOutcome.Skipped)
                    {
                        Missed = skipped,
                        Reason = $"missed: {count} due time(s) from {Rfc(missed[0])} to {Rfc(ls)} passed while nothing could fire them "
                            + $"(misfire policy {s.Misfire.Word()}{(s.Misfire == MisfirePolicy.CatchUp ? $", catch_up_max {s.CatchUpMax}" : "")})",
                    });
                    lastDue = ls;
                }
                fires.AddRange(kept.Select(d => (d, false)));
            }
            var onTimeFrom = first > boundary ? first : boundary;
            fires.AddRange(s.Timing.Between(onTimeFrom, now, EnumerationLimit, out _).Select(d => (d, true)));
        }

        // The overlap policy, in due order. A run queued earlier goes first once its blocker finished.
        var unfinished = s.LastRunUnfinished;
        var lastExecution = s.LastExecutionId;
        var queued = s.QueuedDueAt;
        Guid? cancel = null;
        // What the history says of the cancellation; it moves to the fire that supersedes, within
        // the pass, the fire that made it, so that the record of it is never lost.
        string? cancelNote = null;
        if (queued is { } q && unfinished is null)
        {
            var id = newId();
            decisions.Add(new FireDecision(q, FireOutcome.Fired) { ExecutionId = id, FromQueue = true, Reason = $"queued behind execution {lastExecution}" });
            (lastExecution, unfinished, queued) = (id, "PENDING", null);
        }
        foreach (var (due, onTime) in fires)
        {
            var late = onTime ? null : "catch-up of a missed due time";
            if (unfinished is not null && s.Overlap == OverlapPolicy.Skip)
            {
                decisions.Add(new FireDecision(due, FireOutcome.Skipped) { Reason = $"overlap policy skip: the previous run {lastExecution} is {unfinished}" });
            }
            else if (unfinished is not null && s.Overlap == OverlapPolicy.Queue)
            {
                if (queued is null)
                {
                    decisions.Add(new FireDecision(due, FireOutcome.Queued) { Reason = $"overlap policy queue: waits for the previous run {lastExecution} ({unfinished})" });
                    queued = due;
                }
                else
                {
                    decisions.Add(new FireDecision(due, FireOutcome.Skipped)
                    { Reason = $"overlap policy queue: the run due at {Rfc(queued.Value)} is already queued behind {lastExecution}" });
                }
            }
            else
            {
                var id = newId();
                string? reason = late;
                if (unfinished is not null && s.Overlap == OverlapPolicy.Cancel)
                {
                    var superseded = decisions.FindIndex(d => d.ExecutionId == lastExecution);
                    if (superseded >= 0)
                    {
                        // Fired in this same pass: it is not created at all.
                        decisions[superseded] = decisions[superseded] with
                        {
                            Outcome = FireOutcome.Skipped,
                            ExecutionId = null,
                            Reason = $"overlap policy cancel: superseded by the run due at {Rfc(due)} in the same pass",
                        };
                        if (cancelNote is not null) reason = Join(late, cancelNote);
                    }
                    else
                    {
                        cancel = lastExecution;
                        cancelNote = $"overlap policy cancel: cancelled the previous run {lastExecution} ({unfinished})";
                        reason = Join(late, cancelNote);
                    }
                }
                decisions.Add(new FireDecision(due, FireOutcome.Fired) { ExecutionId = id, OnTime = onTime, Reason = reason });
                (lastExecution, unfinished) = (id, "PENDING");
            }
            lastDue = due;
        }

        // No due time lies between the old next_due_at and now that was not planned above, so the
        // next one is simply the first after now.
        var next = s.NextDueAt is null ? null : s.Timing.NextAfter(now);
        return new FirePlan(decisions, next, lastDue, lastExecution, queued, cancel);
    }

    private static string? Join(string? a, string b) => a is null ? b : $"{a}; {b}";

    /// <summary>The latest <paramref name="count"/> due times in [<paramref name="from"/>, <paramref name="to"/>].</summary>
    private static List<DateTimeOffset> LatestBefore(ScheduleTiming timing, DateTimeOffset from, DateTimeOffset to, int count)
    {
        if (count == 0) return [];
        foreach (var window in Windows)
        {
            var start = window >= to - from ? from : to - window;
            var found = timing.Between(start, to, int.MaxValue - 1, out _);
            if (found.Count >= count || start == from) return found.Count <= count ? found : found[^count..];
        }
        return [];
    }

    private static readonly TimeSpan[] Windows =
        [TimeSpan.FromMinutes(10), TimeSpan.FromHours(6), TimeSpan.FromDays(2), TimeSpan.FromDays(40), TimeSpan.FromDays(400), TimeSpan.FromDays(4000), TimeSpan.MaxValue / 4];

    private static string Rfc(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
