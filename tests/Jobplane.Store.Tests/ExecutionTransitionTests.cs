using Jobplane.Api;
using Jobplane.Store;
using static Jobplane.Api.ExecutionStatus;

namespace Jobplane.Store.Tests;

/// <summary>The pure state machine: every (state, event) pair the platform allows, and the refusal of all others.</summary>
public sealed class ExecutionTransitionTests
{
    private static TransitionDecision Decide(string? status, EventKind kind, int charged = 1, int max = 3, bool cancel = false,
        bool retryable = true, bool due = true) =>
        ExecutionTransitions.Decide(new ExecutionState(status, charged, max, cancel), new ExecutionEvent(kind, retryable, due));

    [Fact]
    public void A_submission_is_pending_and_queued_when_due_and_scheduled_otherwise()
    {
        Assert.Equal(new TransitionDecision(null, Pending, EventKind.Submitted, Queue: true), Decide(null, EventKind.Submitted));
        Assert.Equal(new TransitionDecision(null, Scheduled, EventKind.Submitted), Decide(null, EventKind.Submitted, due: false));
        Assert.Equal(new TransitionDecision(null, Pending, EventKind.RetriedFromDlq, Queue: true), Decide(null, EventKind.RetriedFromDlq));
    }

    [Fact]
    public void A_claim_starts_an_attempt_of_a_pending_execution()
    {
        Assert.Equal(new TransitionDecision(Pending, Running, EventKind.Claimed), Decide(Pending, EventKind.Claimed));
    }

    [Theory]
    [InlineData(Scheduled)]
    [InlineData(Retrying)]
    public void A_due_scheduled_run_or_retry_is_promoted_into_the_queue(string status)
    {
        Assert.Equal(new TransitionDecision(status, Pending, EventKind.Promoted, Queue: true), Decide(status, EventKind.Promoted));
    }

    [Theory]
    [InlineData(Pending)]
    [InlineData(Scheduled)]
    [InlineData(Retrying)]
    public void A_waiting_execution_is_cancelled_at_once(string status)
    {
        Assert.Equal(new TransitionDecision(status, Cancelled, EventKind.Cancelled), Decide(status, EventKind.Cancelled));
    }

    [Fact]
    public void A_running_execution_only_records_a_cancel_request()
    {
        var d = Decide(Running, EventKind.Cancelled);

        Assert.Equal(new TransitionDecision(Running, Running, EventKind.Cancelled), d);
        Assert.True(d.CancelRequestOnly);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Success_is_final_even_when_a_cancel_was_requested(bool cancel)
    {
        Assert.Equal(new TransitionDecision(Running, Succeeded, EventKind.Succeeded, Outcome: AttemptOutcome.Succeeded),
            Decide(Running, EventKind.Succeeded, cancel: cancel));
    }

    [Fact]
    public void A_failure_retries_after_a_backoff_while_attempts_remain_and_dead_letters_after()
    {
        Assert.Equal(new TransitionDecision(Running, Retrying, EventKind.Failed, Outcome: AttemptOutcome.Failed, Backoff: true),
            Decide(Running, EventKind.Failed, charged: 2, max: 3));
        Assert.Equal(new TransitionDecision(Running, Failed, EventKind.Failed, DeadLetter: true, Outcome: AttemptOutcome.Failed),
            Decide(Running, EventKind.Failed, charged: 3, max: 3));
    }

    [Fact]
    public void A_failure_that_is_not_retryable_dead_letters_with_attempts_left()
    {
        Assert.Equal(new TransitionDecision(Running, Failed, EventKind.Failed, DeadLetter: true, Outcome: AttemptOutcome.Failed),
            Decide(Running, EventKind.Failed, charged: 1, max: 3, retryable: false));
    }

    [Theory]
    [InlineData(EventKind.Failed, AttemptOutcome.Cancelled)]
    [InlineData(EventKind.Lost, AttemptOutcome.LeaseExpired)]
    public void A_failure_or_lost_lease_of_a_cancelled_execution_ends_it_cancelled(EventKind kind, string outcome)
    {
        Assert.Equal(new TransitionDecision(Running, Cancelled, kind, Outcome: outcome),
            Decide(Running, kind, charged: 3, max: 3, cancel: true));
    }

    [Fact]
    public void A_lost_lease_is_charged_and_queued_again_at_once_or_dead_lettered()
    {
        Assert.Equal(new TransitionDecision(Running, Pending, EventKind.Lost, Queue: true, Outcome: AttemptOutcome.LeaseExpired),
            Decide(Running, EventKind.Lost, charged: 2, max: 3));
        Assert.Equal(new TransitionDecision(Running, Failed, EventKind.Lost, DeadLetter: true, Outcome: AttemptOutcome.LeaseExpired),
            Decide(Running, EventKind.Lost, charged: 3, max: 3));
    }

    [Fact]
    public void A_hand_back_is_not_charged_and_queued_again_unless_cancelled()
    {
        Assert.Equal(new TransitionDecision(Running, Pending, EventKind.HandedBack, Queue: true, Outcome: AttemptOutcome.Released, Uncharged: true),
            Decide(Running, EventKind.HandedBack, charged: 3, max: 3));
        Assert.Equal(new TransitionDecision(Running, Cancelled, EventKind.HandedBack, Outcome: AttemptOutcome.Released, Uncharged: true),
            Decide(Running, EventKind.HandedBack, cancel: true));
    }

    /// <summary>Every (status, event) pair, whatever the other inputs, is allowed exactly when listed here.</summary>
    [Fact]
    public void Every_other_pair_is_refused()
    {
        var allowed = new HashSet<(string?, EventKind)>
        {
            (null, EventKind.Submitted), (null, EventKind.RetriedFromDlq), (Pending, EventKind.Claimed),
            (Scheduled, EventKind.Promoted), (Retrying, EventKind.Promoted),
            (Pending, EventKind.Cancelled), (Scheduled, EventKind.Cancelled), (Retrying, EventKind.Cancelled), (Running, EventKind.Cancelled),
            (Running, EventKind.Succeeded), (Running, EventKind.Failed), (Running, EventKind.Lost), (Running, EventKind.HandedBack),
        };
        foreach (var status in new string?[] { null }.Concat(All))
            foreach (var kind in Enum.GetValues<EventKind>())
                foreach (var cancel in new[] { false, true })
                    foreach (var flag in new[] { false, true })
                    {
                        var d = ExecutionTransitions.TryDecide(new ExecutionState(status, 1, 3, cancel), new ExecutionEvent(kind, flag, flag));
                        Assert.True(allowed.Contains((status, kind)) == d is not null, $"{status ?? "NEW"} --{kind}--> {d?.To ?? "refused"}");
                    }
        Assert.Throws<InvalidOperationException>(() => Decide(Succeeded, EventKind.Cancelled));
    }

    [Fact]
    public void Finished_executions_have_no_way_out()
    {
        Assert.DoesNotContain(ExecutionTransitions.AllowedTransitions(), t => IsTerminal(t.From));
    }

    [Fact]
    public void The_allowed_transitions_are_listed_once_each_for_a_diagram()
    {
        var edges = ExecutionTransitions.AllowedTransitions().ToList();

        Assert.Equal(edges.Count, edges.Distinct().Count());
        Assert.Equal(19, edges.Count);
        Assert.Contains(("NEW", "submitted", Scheduled), edges);
        Assert.Contains((Running, "lost", Failed), edges);
        Assert.Contains((Running, "cancelled", Running), edges);
        Assert.All(edges, e => Assert.Contains(e.Event, EventKinds.All));
    }
}
