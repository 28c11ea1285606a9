using Jobplane.Controller.Queue;
using Jobplane.Store;

namespace Jobplane.Controller.Tests;

/// <summary>Idle long-polls are woken in turn: one per shape per notification, more as claims find work.</summary>
public sealed class IdleWaitersTests
{
    private const string A = "shape-a";
    private const string B = "shape-b";

    [Fact]
    public void A_notification_wakes_the_first_waiter_of_each_shape_and_no_other()
    {
        var waiters = new IdleWaiters();
        var seen = waiters.Notifications;
        var a1 = waiters.Enter(A, seen);
        var a2 = waiters.Enter(A, seen);
        var b1 = waiters.Enter(B, seen);
        var b2 = waiters.Enter(B, seen);

        waiters.Notified();

        Assert.True(a1.Woken.IsCompleted, "the longest-waiting poll of shape a claims");
        Assert.True(b1.Woken.IsCompleted, "the longest-waiting poll of shape b claims");
        Assert.False(a2.Woken.IsCompleted, "a second waiter of shape a was woken by one notification");
        Assert.False(b2.Woken.IsCompleted, "a second waiter of shape b was woken by one notification");
        Assert.Equal(2, waiters.Count);
    }

    [Fact]
    public void A_claim_that_found_work_wakes_the_next_waiters_of_its_shape_only()
    {
        var waiters = new IdleWaiters();
        var seen = waiters.Notifications;
        var a = Enumerable.Range(0, 5).Select(_ => waiters.Enter(A, seen)).ToList();
        var b1 = waiters.Enter(B, seen);

        waiters.WakeNext(A, 2);

        Assert.Equal([true, true, false, false, false], a.Select(w => w.Woken.IsCompleted));
        Assert.False(b1.Woken.IsCompleted);
        waiters.WakeNext(A, 10); // more than wait: the rest, and no error
        Assert.All(a, w => Assert.True(w.Woken.IsCompleted));
        Assert.Equal(1, waiters.Count);
    }

    [Fact]
    public void A_notification_that_found_nobody_of_a_shape_waiting_is_not_slept_through()
    {
        var waiters = new IdleWaiters();
        var seen = waiters.Notifications; // a claim starts ...
        waiters.Notified();               // ... work arrives while it runs, and nobody of its shape waits ...
        var late = waiters.Enter(A, seen); // ... it found nothing (too early) and would go to sleep
        Assert.True(late.Woken.IsCompleted, "the poll slept through the notification that came during its claim");

        // With a waiter of the shape already queued, that waiter was woken instead: no second claim.
        var seen2 = waiters.Notifications;
        var queued = waiters.Enter(B, seen2);
        waiters.Notified();
        var second = waiters.Enter(B, seen2);
        Assert.True(queued.Woken.IsCompleted);
        Assert.False(second.Woken.IsCompleted, "a notification another waiter took woke a second poll");
    }

    [Fact]
    public void A_turn_given_to_a_poll_that_is_ending_goes_to_the_next_waiter()
    {
        var waiters = new IdleWaiters();
        var seen = waiters.Notifications;
        var leaving = waiters.Enter(A, seen);
        var next = waiters.Enter(A, seen);

        waiters.Notified();
        waiters.Leave(leaving, claimsAgain: false); // its client went away just as it was woken

        Assert.True(next.Woken.IsCompleted, "the turn of a poll that went away was lost");
        Assert.Equal(0, waiters.Count);
    }

    [Fact]
    public void A_poll_that_leaves_before_its_turn_is_no_longer_woken()
    {
        var waiters = new IdleWaiters();
        var seen = waiters.Notifications;
        var timedOut = waiters.Enter(A, seen);
        waiters.Leave(timedOut, claimsAgain: true);
        Assert.Equal(0, waiters.Count);

        var after = waiters.Enter(A, waiters.Notifications);
        waiters.Recheck();
        Assert.False(timedOut.Woken.IsCompleted);
        Assert.True(after.Woken.IsCompleted, "the periodic re-check wakes the first waiter of each shape");
        Assert.Equal(0, waiters.Count);
    }

    [Fact]
    public void Claims_that_filter_alike_have_one_shape_whatever_the_order_and_others_another()
    {
        Guid t1 = Guid.NewGuid(), t2 = Guid.NewGuid();
        var grants = new WorkerGrants { Classes = ["exec", "container"], MaxMemoryMib = 512 };
        string Shape(Guid[]? tenants, string? runtime, WorkerGrants g, int limit, string worker) =>
            IdleWaiters.ShapeOf(new DequeueClaim(limit, worker, tenants, runtime, g, TimeSpan.FromSeconds(5)));

        var shape = Shape([t1, t2], "docker", grants, 1, "w1");
        Assert.Equal(shape, Shape([t2, t1], "docker", grants with { Classes = ["container", "exec"] }, 8, "w2"));
        Assert.NotEqual(shape, Shape([t1], "docker", grants, 1, "w1"));
        Assert.NotEqual(shape, Shape(null, "docker", grants, 1, "w1"));
        Assert.NotEqual(shape, Shape([t1, t2], "exec", grants, 1, "w1"));
        Assert.NotEqual(shape, Shape([t1, t2], "docker", grants with { MaxMemoryMib = 1024 }, 1, "w1"));
        Assert.NotEqual(shape, Shape([t1, t2], "docker", grants with { Network = false }, 1, "w1"));
    }
}
