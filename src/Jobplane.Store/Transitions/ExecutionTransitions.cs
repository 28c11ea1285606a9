using Jobplane.Api;

namespace Jobplane.Store;

/// <summary>
/// What the transition function needs to know of an execution: its status (null: it does not exist
/// yet), attempts charged so far against <see cref="MaxAttempts"/> (including a running one; handed
/// back attempts are not charged), and whether a user asked to cancel it.
/// </summary>
public readonly record struct ExecutionState(string? Status, int Charged = 0, int MaxAttempts = 1, bool CancelRequested = false);

/// <summary>
/// An event that may move an execution. <see cref="Retryable"/> matters for <see cref="EventKind.Failed"/>
/// only (false: a non-retryable failure or an exit code the job lists as permanent); <see cref="Due"/>
/// for <see cref="EventKind.Submitted"/> only (false: scheduled for later).
/// </summary>
public readonly record struct ExecutionEvent(EventKind Kind, bool Retryable = true, bool Due = true);

/// <summary>
/// What an event does to an execution: its next status, whether it goes into ready_queue now,
/// whether a dead letter is written, how the running attempt ended (null: no attempt ends), whether
/// that attempt is left uncharged (a hand-back), and whether it waits for a backoff (a retry).
/// A running execution that is cancelled keeps running (<see cref="To"/> is RUNNING) with the
/// request recorded: its worker stops it.
/// </summary>
public sealed record TransitionDecision(
    string? From, string To, EventKind Kind, bool Queue = false, bool DeadLetter = false, string? Outcome = null,
    bool Uncharged = false, bool Backoff = false)
{
    /// <summary>A running execution stays where it is and only records the cancel request.</summary>
    public bool CancelRequestOnly => From == ExecutionStatus.Running && To == ExecutionStatus.Running;
}

/// <summary>
/// The state machine of an execution, as a pure function: every status change in the platform is
/// decided here, and written by <see cref="TransitionWriter"/>.
/// </summary>
public static class ExecutionTransitions
{
    /// <summary>The decision for <paramref name="e"/> in <paramref name="s"/>, or null when the platform does not allow it.</summary>
    public static TransitionDecision? TryDecide(ExecutionState s, ExecutionEvent e)
    {
        TransitionDecision To(string to, bool queue = false, bool dead = false, string? outcome = null, bool uncharged = false, bool backoff = false) =>
            new(s.Status, to, e.Kind, queue, dead, outcome, uncharged, backoff);
        var attemptsLeft = s.Charged < s.MaxAttempts;
        return (s.Status, e.Kind) switch
        {
            (null, EventKind.Submitted) => e.Due ? To(ExecutionStatus.Pending, queue: true) : To(ExecutionStatus.Scheduled),
            (null, EventKind.RetriedFromDlq) => To(ExecutionStatus.Pending, queue: true),
            (ExecutionStatus.Pending, EventKind.Claimed) => To(ExecutionStatus.Running),
            (ExecutionStatus.Scheduled or ExecutionStatus.Retrying, EventKind.Promoted) => To(ExecutionStatus.Pending, queue: true),
            (ExecutionStatus.Pending or ExecutionStatus.Scheduled or ExecutionStatus.Retrying, EventKind.Cancelled) =>
                To(ExecutionStatus.Cancelled),
            (ExecutionStatus.Running, EventKind.Cancelled) => To(ExecutionStatus.Running),
            // The work was done: a cancel requested meanwhile does not undo it.
            (ExecutionStatus.Running, EventKind.Succeeded) => To(ExecutionStatus.Succeeded, outcome: AttemptOutcome.Succeeded),
            (ExecutionStatus.Running, EventKind.Failed) when s.CancelRequested => To(ExecutionStatus.Cancelled, outcome: AttemptOutcome.Cancelled),
            (ExecutionStatus.Running, EventKind.Failed) when e.Retryable && attemptsLeft =>
                To(ExecutionStatus.Retrying, outcome: AttemptOutcome.Failed, backoff: true),
            (ExecutionStatus.Running, EventKind.Failed) => To(ExecutionStatus.Failed, dead: true, outcome: AttemptOutcome.Failed),
            (ExecutionStatus.Running, EventKind.Lost) when s.CancelRequested => To(ExecutionStatus.Cancelled, outcome: AttemptOutcome.LeaseExpired),
            // Back at once: a worker's death is not the job's failure to wait for, but it is charged,
            // so a job that kills its worker cannot loop forever.
            (ExecutionStatus.Running, EventKind.Lost) when attemptsLeft =>
                To(ExecutionStatus.Pending, queue: true, outcome: AttemptOutcome.LeaseExpired),
            (ExecutionStatus.Running, EventKind.Lost) => To(ExecutionStatus.Failed, dead: true, outcome: AttemptOutcome.LeaseExpired),
            (ExecutionStatus.Running, EventKind.HandedBack) when s.CancelRequested =>
                To(ExecutionStatus.Cancelled, outcome: AttemptOutcome.Released, uncharged: true),
            (ExecutionStatus.Running, EventKind.HandedBack) =>
                To(ExecutionStatus.Pending, queue: true, outcome: AttemptOutcome.Released, uncharged: true),
            _ => null,
        };
    }

    /// <summary>The decision for <paramref name="e"/> in <paramref name="s"/>; throws when the platform does not allow it.</summary>
    public static TransitionDecision Decide(ExecutionState s, ExecutionEvent e) =>
        TryDecide(s, e) ?? throw new InvalidOperationException($"an execution in {s.Status ?? "no state"} cannot be {e.Kind.Word()}");

    /// <summary>
    /// Every transition the platform allows, one per (from, event, to), "NEW" standing for an
    /// execution not yet created: what a state diagram of executions draws.
    /// </summary>
    public static IEnumerable<(string From, string Event, string To)> AllowedTransitions()
    {
        const string New = "NEW";
        IEnumerable<string?> from = [null, .. ExecutionStatus.All];
        var seen = new HashSet<(string, string, string)>();
        foreach (var status in from)
            foreach (var kind in Enum.GetValues<EventKind>())
                foreach (var variant in Variants(status, kind))
                {
                    if (TryDecide(variant.State, variant.Event) is not { } d) continue;
                    var edge = (status ?? New, kind.Word(), d.To);
                    if (seen.Add(edge)) yield return edge;
                }
    }

    // Each input that can change a decision, both ways: attempts left or not, cancel requested or not,
    // retryable or not, due or not.
    private static IEnumerable<(ExecutionState State, ExecutionEvent Event)> Variants(string? status, EventKind kind)
    {
        foreach (var charged in new[] { 1, 3 })
            foreach (var cancel in new[] { false, true })
                foreach (var flag in new[] { true, false })
                    yield return (new ExecutionState(status, charged, 3, cancel), new ExecutionEvent(kind, Retryable: flag, Due: flag));
    }
}
