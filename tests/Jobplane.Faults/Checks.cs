using Jobplane.Api;

namespace Jobplane.Faults;

/// <summary>One figure of the verdict. MustBeZero figures fail the run when they are not zero; the others are reported.</summary>
public sealed record CheckResult(string Name, int Value, bool MustBeZero, string Meaning, IReadOnlyList<Guid> Examples)
{
    public bool Failed => MustBeZero && Value != 0;
}

/// <summary>Percentiles of a set of durations (nearest rank).</summary>
public sealed record Distribution(int Count, TimeSpan? P50, TimeSpan? P99, TimeSpan? Max)
{
    public static Distribution Of(List<TimeSpan> samples)
    {
        if (samples.Count == 0) return new Distribution(0, null, null, null);
        samples.Sort();
        return new Distribution(samples.Count, Percentile(samples, 0.50), Percentile(samples, 0.99), samples[^1]);
    }

    private static TimeSpan Percentile(List<TimeSpan> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

/// <summary>
/// For each worker SIGKILL/SIGSTOP at T and each execution that worker was running at T: T to the
/// rescue of its lost lease (detection: lease expiry plus the maintenance tick), T to its next
/// attempt's start (detection plus the wait in the ready queue, where a rescued execution goes
/// behind whatever arrived meanwhile), and T to the start of the attempt that succeeded (the next
/// one may be lost too). ClaimedWhileAway counts attempts the controllers granted to a worker while
/// it was stopped or dead (a long-poll still open on a stopped process takes work it cannot run
/// until that lease expires too).
/// </summary>
public sealed record RecoveryFigures(Distribution Rescued, Distribution NextAttempt, Distribution SucceededAttempt, int ClaimedWhileAway);

/// <summary>Everything the run produced, for the checks.</summary>
public sealed record RunEvidence(
    SubmissionResult Submission,
    FinalState State,
    HistoryFile History,
    IReadOnlyList<Fault> Faults,
    IReadOnlyList<UnexpectedExit> UnexpectedExits,
    IReadOnlyList<string> RestoreFailures,
    bool Quiesced);

/// <summary>
/// The checks, in the spirit of Jepsen's total-queue: what was acknowledged must come out exactly
/// once as a success, nothing may come out that was not put in, and the platform's record of
/// attempts must agree with what the job itself saw run.
/// </summary>
public static class Checks
{
    private const string Succeeded = "succeeded";
    private const string Failed = "failed";
    private const string LeaseExpired = "lease_expired";
    private const string Released = "released";
    private const int ExamplesKept = 5;

    /// <summary>
    /// An execution created by a request that got no definite answer has a created_at (PostgreSQL's
    /// clock) inside that request's window (our clock): the same kernel clock, read a few
    /// microseconds apart, so a small margin covers the granularity of both.
    /// </summary>
    private static readonly TimeSpan WindowSlack = TimeSpan.FromMilliseconds(20);

    public static IReadOnlyList<CheckResult> Evaluate(RunEvidence run)
    {
        var acked = run.Submission.Acknowledged.ToHashSet();
        var db = run.State.Executions;
        var history = run.History.Runs;
        var results = new List<CheckResult>();

        void Add(string name, IEnumerable<Guid> ids, bool mustBeZero, string meaning)
        {
            var list = ids.Distinct().ToList();
            results.Add(new CheckResult(name, list.Count, mustBeZero, meaning, [.. list.Take(ExamplesKept)]));
        }

        void AddCount(string name, int value, bool mustBeZero, string meaning) =>
            results.Add(new CheckResult(name, value, mustBeZero, meaning, []));

        // Safety of the queue.
        Add("lost", acked.Where(id => !db.TryGetValue(id, out var e) || e.Status != ExecutionStatus.Succeeded), true,
            "acknowledged executions whose final status is not SUCCEEDED");

        var unacknowledged = db.Keys.Concat(history.Keys).Where(id => !acked.Contains(id)).ToHashSet();
        var explained = ExplainedByInDoubt(unacknowledged.Where(db.ContainsKey).Select(id => db[id]), run.Submission.InDoubt);
        AddCount("created in doubt", explained.Count, false,
            "unacknowledged executions created by a request that got no definite answer (5xx, reset, timeout)");
        Add("unexpected", unacknowledged.Where(id => !explained.Contains(id)), true,
            "executions that ran or exist but were never acknowledged nor explained by a request in doubt");

        Add("double completion", db.Values.Where(CompletedTwice).Select(e => e.Id), true,
            "executions with two succeeded attempts, or an accepted outcome after a success");
        Add("overlapping leases", db.Values.Where(e => OverlappingPairs(e.Attempts) > 0).Select(e => e.Id), true,
            "executions with two attempts whose [started_at, ended_at] overlap");
        Add("open attempts", db.Values.Where(e => e.Attempts.Any(a => a.EndedAt is null || a.Outcome is null)).Select(e => e.Id), true,
            "attempts without an end or an outcome once everything is terminal");
        Add("success not last", db.Values.Where(SuccessNotLast).Select(e => e.Id), true,
            "SUCCEEDED executions whose last attempt is not the succeeded one");

        // What really ran, against what the platform recorded.
        var duplicates = history.Where(kv => kv.Value.Sum(r => r.Starts.Count) > 1).Select(kv => kv.Key).ToList();
        Add("duplicates", duplicates, false, "executions whose job started more than once (at-least-once at work)");
        Add("unexplained duplicates", duplicates.Where(id => !DuplicateExplained(db.GetValueOrDefault(id), history[id])), true,
            "duplicates with an earlier run whose attempt did not end lease_expired or released");
        Add("runs without attempt", history.Where(kv => kv.Value.Any(r => db.GetValueOrDefault(kv.Key)?.Attempts.All(a => a.Attempt != r.Attempt) ?? true))
            .Select(kv => kv.Key), true, "job runs in HISTORY under an attempt number the database never granted");
        Add("attempt ran twice", history.Where(kv => kv.Value.Any(r => r.Starts.Count > 1)).Select(kv => kv.Key), true,
            "one attempt number started twice in HISTORY");
        Add("success without run", db.Values.Where(e => e.Status == ExecutionStatus.Succeeded && !SuccessRan(e, history.GetValueOrDefault(e.Id)))
            .Select(e => e.Id), true, "SUCCEEDED executions whose succeeded attempt has no complete start/end in HISTORY");
        Add("zombie overlaps", history.Where(kv => OverlappingRuns(kv.Value)).Select(kv => kv.Key), false,
            "executions with two complete runs overlapping in time (a paused worker resuming a job it had lost)");
        AddCount("malformed history lines", run.History.Malformed, true, "HISTORY lines that do not parse (torn writes)");

        // The run itself.
        AddCount("submissions given up", run.Submission.GaveUp, true, "submissions never acknowledged within 90 s");
        AddCount("submissions refused", run.Submission.Refusals.Count, true, "submissions answered with a 4xx");
        AddCount("unexpected exits", run.UnexpectedExits.Count, true, "controller or worker processes that died without being told to");
        AddCount("faults not undone", run.RestoreFailures.Count, true, "processes the nemesis could not bring back");
        AddCount("not quiesced", run.Quiesced ? 0 : 1, true, "the run ended before every execution was terminal");
        return results;
    }

    /// <summary>See <see cref="RecoveryFigures"/>.</summary>
    public static RecoveryFigures Recovery(IReadOnlyList<Fault> faults, FinalState state)
    {
        var rescued = new List<TimeSpan>();
        var next = new List<TimeSpan>();
        var succeeded = new List<TimeSpan>();
        var away = 0;
        foreach (var fault in faults.Where(f => f.Kind is FaultKind.WorkerKill or FaultKind.WorkerPause))
        {
            var t = fault.InjectedAt;
            foreach (var e in state.Executions.Values)
            {
                foreach (var a in e.Attempts.Where(a => a.WorkerId == fault.Target))
                {
                    if (a.StartedAt > t && a.StartedAt < (fault.RestoredAt ?? DateTimeOffset.MaxValue)) away++;
                    if (a.StartedAt > t || a.Outcome != LeaseExpired || a.EndedAt is not { } end || end < t) continue;
                    rescued.Add(end - t);
                    if (e.Attempts.FirstOrDefault(b => b.Attempt == a.Attempt + 1) is { } n) next.Add(n.StartedAt - t);
                    if (e.Attempts.FirstOrDefault(b => b.Outcome == Succeeded) is { } s) succeeded.Add(s.StartedAt - t);
                }
            }
        }
        return new RecoveryFigures(Distribution.Of(rescued), Distribution.Of(next), Distribution.Of(succeeded), away);
    }

    /// <summary>Matches unacknowledged executions to in-doubt requests by time, each request explaining at most one.</summary>
    private static HashSet<Guid> ExplainedByInDoubt(IEnumerable<ExecutionRow> unacknowledged, IReadOnlyList<InDoubtRequest> inDoubt)
    {
        var unused = inDoubt.OrderBy(r => r.EndedAt).ToList();
        var explained = new HashSet<Guid>();
        foreach (var e in unacknowledged.OrderBy(e => e.CreatedAt))
        {
            var match = unused.FirstOrDefault(r => r.SentAt - WindowSlack <= e.CreatedAt && e.CreatedAt <= r.EndedAt + WindowSlack);
            if (match is null) continue;
            unused.Remove(match);
            explained.Add(e.Id);
        }
        return explained;
    }

    private static bool CompletedTwice(ExecutionRow e)
    {
        var successes = e.Attempts.Where(a => a.Outcome == Succeeded).ToList();
        if (successes.Count > 1) return true;
        if (successes.Count == 0) return false;
        var first = successes[0].Attempt;
        return e.Attempts.Any(a => a.Attempt > first && a.Outcome is Succeeded or Failed);
    }

    private static int OverlappingPairs(IReadOnlyList<AttemptRow> attempts)
    {
        var n = 0;
        for (var i = 0; i < attempts.Count; i++)
        {
            for (var j = i + 1; j < attempts.Count; j++)
            {
                var a = attempts[i];
                var b = attempts[j];
                // An attempt without an end holds its lease to this day.
                var aEnd = a.EndedAt ?? DateTimeOffset.MaxValue;
                var bEnd = b.EndedAt ?? DateTimeOffset.MaxValue;
                if (a.StartedAt < bEnd && b.StartedAt < aEnd) n++;
            }
        }
        return n;
    }

    private static bool SuccessNotLast(ExecutionRow e) =>
        e.Status == ExecutionStatus.Succeeded &&
        (e.Attempts.Count == 0 || e.Attempts[^1].Outcome != Succeeded || e.Attempts[^1].Attempt != e.Attempt);

    /// <summary>Every run but the succeeded one must belong to an attempt that was killed (lease expired) or handed back.</summary>
    private static bool DuplicateExplained(ExecutionRow? e, IReadOnlyList<HistoryRun> runs)
    {
        if (e is null) return false;
        var success = e.Attempts.FirstOrDefault(a => a.Outcome == Succeeded)?.Attempt;
        foreach (var run in runs)
        {
            if (run.Attempt == success) continue;
            var attempt = e.Attempts.FirstOrDefault(a => a.Attempt == run.Attempt);
            if (attempt?.Outcome is not (LeaseExpired or Released)) return false;
            if (success is { } s && run.Attempt > s) return false;
        }
        return true;
    }

    private static bool SuccessRan(ExecutionRow e, IReadOnlyList<HistoryRun>? runs)
    {
        var success = e.Attempts.FirstOrDefault(a => a.Outcome == Succeeded);
        return success is not null && runs?.FirstOrDefault(r => r.Attempt == success.Attempt) is { Completed: true };
    }

    private static bool OverlappingRuns(IReadOnlyList<HistoryRun> runs)
    {
        var complete = runs.Where(r => r.Completed).ToList();
        for (var i = 0; i < complete.Count; i++)
        {
            for (var j = i + 1; j < complete.Count; j++)
            {
                if (complete[i].Start < complete[j].End && complete[j].Start < complete[i].End) return true;
            }
        }
        return false;
    }
}
