using Jobplane.Store.Schedules;

namespace Jobplane.Store.Tests.Schedules;

/// <summary>
/// What one firing pass decides for one schedule: on-time fires, the misfire policies after outages
/// short and long, resume, the enumeration cap, the overlap policies and the end of a schedule.
/// Pure: a schedule row, the database's now and a grace in, decisions out.
/// </summary>
public sealed class FirePlanTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(15);
    private static readonly Guid Previous = Id(100);

    private static Guid Id(int n) => new(n, 0, 0, new byte[8]);

    private static DateTimeOffset At(long seconds) => T0.AddSeconds(seconds);

    private static ScheduleTiming Every10s(DateTimeOffset? endsAt = null) => ScheduleTiming.Every(TimeSpan.FromSeconds(10), T0, null, endsAt);

    private static ScheduleTiming Cron(string expression) =>
        ScheduleTiming.Cron(expression, "UTC", null, null, out var problem) ?? throw new InvalidOperationException(problem);

    private static DueSchedule Schedule(ScheduleTiming timing, MisfirePolicy misfire = MisfirePolicy.FireOnce, int catchUpMax = 1,
        OverlapPolicy overlap = OverlapPolicy.Allow, long nextDue = 10) =>
        new(Guid.NewGuid(), timing, misfire, catchUpMax, overlap) { NextDueAt = At(nextDue) };

    /// <summary>Plans with execution ids 1, 2, 3... in the order the plan asks for them.</summary>
    private static FirePlan Plan(DueSchedule schedule, DateTimeOffset now)
    {
        var n = 0;
        return FirePlan.Make(schedule, now, Grace, () => Id(++n));
    }

    private static string Rfc(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The decisions as (due time, outcome, missed count, on time), in plan order.</summary>
    private static List<(DateTimeOffset, FireOutcome, int, bool)> Shape(FirePlan plan) =>
        [.. plan.Decisions.Select(d => (d.DueAt, d.Outcome, d.Missed, d.OnTime))];

    // On time.

    [Fact]
    public void A_due_time_within_the_grace_fires_on_time()
    {
        var plan = Plan(Schedule(Every10s()), At(12));

        var fired = Assert.Single(plan.Decisions);
        Assert.Equal(At(10), fired.DueAt);
        Assert.Equal(FireOutcome.Fired, fired.Outcome);
        Assert.Equal(Id(1), fired.ExecutionId);
        Assert.True(fired.OnTime);
        Assert.False(fired.FromQueue);
        Assert.Null(fired.Reason);
        Assert.Equal(1, fired.Missed);
        Assert.Equal(At(20), plan.NextDueAt);
        Assert.Equal(At(10), plan.LastDueAt);
        Assert.Equal(Id(1), plan.LastExecutionId);
        Assert.Null(plan.QueuedDueAt);
        Assert.Null(plan.CancelExecutionId);
    }

    [Fact]
    public void A_due_time_exactly_now_fires_and_nothing_is_due_before_the_next()
    {
        var plan = Plan(Schedule(Every10s()), At(10));
        Assert.Equal([(At(10), FireOutcome.Fired, 1, true)], Shape(plan));
        Assert.Equal(At(20), plan.NextDueAt);

        var early = Plan(Schedule(Every10s()), At(9));
        Assert.Empty(early.Decisions);
        Assert.Equal(At(10), early.NextDueAt);
        Assert.Null(early.LastDueAt);
    }

    [Fact]
    public void The_grace_boundary_is_inclusive_and_a_tick_older_is_missed()
    {
        // now − grace = 10 s exactly: both due times are on time.
        var plan = Plan(Schedule(Every10s()), At(25));
        Assert.Equal([(At(10), FireOutcome.Fired, 1, true), (At(20), FireOutcome.Fired, 1, true)], Shape(plan));

        // One tick later the 10 s due time was missed; fire_once fires it as a catch-up.
        var late = Plan(Schedule(Every10s()), At(25).AddTicks(1));
        Assert.Equal([(At(10), FireOutcome.Fired, 1, false), (At(20), FireOutcome.Fired, 1, true)], Shape(late));
        Assert.Equal("catch-up of a missed due time", late.Decisions[0].Reason);
    }

    // Misfire policies after outages.

    /// <summary>
    /// Every 10 s (first due at 10 s) or every minute (first due at 60 s), planned at <paramref name="now"/>
    /// seconds after T0 with a 15 s grace. Expected: one skipped row at <paramref name="skippedAt"/>
    /// standing for <paramref name="missed"/> due times (a lower bound, "more than", past the enumeration
    /// cap), catch-up fires at <paramref name="late"/>, on-time fires at <paramref name="onTime"/>.
    /// </summary>
    [Theory]
    // A 5-minute outage of an every-10s interval: due times 10..290 s missed (29), 300 and 310 s on time.
    [InlineData("every 10s", 310, MisfirePolicy.Skip, 1, 290, 29, false, new long[0], new long[] { 300, 310 })]
    [InlineData("every 10s", 310, MisfirePolicy.FireOnce, 1, 280, 28, false, new long[] { 290 }, new long[] { 300, 310 })]
    [InlineData("every 10s", 310, MisfirePolicy.CatchUp, 3, 260, 26, false, new long[] { 270, 280, 290 }, new long[] { 300, 310 })]
    // A 3-day outage of an every-10s interval: 25,918 due times missed, more than the 10,000 enumerated.
    [InlineData("every 10s", 259_200, MisfirePolicy.Skip, 1, 259_180, 10_000, true, new long[0], new long[] { 259_190, 259_200 })]
    [InlineData("every 10s", 259_200, MisfirePolicy.FireOnce, 1, 259_170, 9_999, true, new long[] { 259_180 }, new long[] { 259_190, 259_200 })]
    [InlineData("every 10s", 259_200, MisfirePolicy.CatchUp, 3, 259_150, 9_997, true, new long[] { 259_160, 259_170, 259_180 }, new long[] { 259_190, 259_200 })]
    // A 5-minute outage of '* * * * *': 00:01..00:05 missed (5), 00:06 on time.
    [InlineData("* * * * *", 365, MisfirePolicy.Skip, 1, 300, 5, false, new long[0], new long[] { 360 })]
    [InlineData("* * * * *", 365, MisfirePolicy.FireOnce, 1, 240, 4, false, new long[] { 300 }, new long[] { 360 })]
    [InlineData("* * * * *", 365, MisfirePolicy.CatchUp, 3, 120, 2, false, new long[] { 180, 240, 300 }, new long[] { 360 })]
    // A 3-day outage of '* * * * *': 4,319 minutes missed (counted exactly), midnight of the fourth day on time.
    [InlineData("* * * * *", 259_205, MisfirePolicy.Skip, 1, 259_140, 4_319, false, new long[0], new long[] { 259_200 })]
    [InlineData("* * * * *", 259_205, MisfirePolicy.FireOnce, 1, 259_080, 4_318, false, new long[] { 259_140 }, new long[] { 259_200 })]
    [InlineData("* * * * *", 259_205, MisfirePolicy.CatchUp, 3, 258_960, 4_316, false, new long[] { 259_020, 259_080, 259_140 }, new long[] { 259_200 })]
    public void After_an_outage_the_misfire_policy_decides_what_the_missed_due_times_do(string kind, long now, MisfirePolicy misfire, int catchUpMax,
        long skippedAt, int missed, bool lowerBound, long[] late, long[] onTime)
    {
        var step = kind == "every 10s" ? 10 : 60;
        var timing = kind == "every 10s" ? Every10s() : Cron(kind);
        var schedule = Schedule(timing, misfire, catchUpMax, nextDue: step);

        var plan = Plan(schedule, At(now));

        List<(DateTimeOffset, FireOutcome, int, bool)> expected =
        [
            (At(skippedAt), FireOutcome.Skipped, missed, false),
            .. late.Select(s => (At(s), FireOutcome.Fired, 1, false)),
            .. onTime.Select(s => (At(s), FireOutcome.Fired, 1, true)),
        ];
        Assert.Equal(expected, Shape(plan));

        var count = (lowerBound ? "more than " : "") + missed.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        var policy = misfire.Word() + (misfire == MisfirePolicy.CatchUp ? $", catch_up_max {catchUpMax}" : "");
        Assert.Equal($"missed: {count} due time(s) from {Rfc(At(step))} to {Rfc(At(skippedAt))} passed while nothing could fire them (misfire policy {policy})",
            plan.Decisions[0].Reason);
        Assert.Null(plan.Decisions[0].ExecutionId);
        Assert.All(plan.Decisions.Skip(1).Take(late.Length), d => Assert.Equal("catch-up of a missed due time", d.Reason));
        Assert.All(plan.Decisions.Skip(1 + late.Length), d => Assert.Null(d.Reason));
        Assert.Equal(Enumerable.Range(1, late.Length + onTime.Length).Select(Id), plan.Decisions.Skip(1).Select(d => d.ExecutionId!.Value));

        Assert.Equal(At((now / step + 1) * step), plan.NextDueAt);
        Assert.Equal(At(onTime[^1]), plan.LastDueAt);
        Assert.Equal(Id(late.Length + onTime.Length), plan.LastExecutionId);
    }

    [Fact]
    public void Missed_before_makes_due_times_missed_whatever_the_grace()
    {
        // Resumed at 100 s, planned at 105 s: 90 s is within the grace, but it came while the schedule was paused.
        var resumed = Schedule(Every10s()) with { MissedBefore = At(100) };

        var plan = Plan(resumed, At(105));

        Assert.Equal([(At(80), FireOutcome.Skipped, 8, false), (At(90), FireOutcome.Fired, 1, false), (At(100), FireOutcome.Fired, 1, true)], Shape(plan));
        Assert.StartsWith("missed: 8 due time(s) from 2026-01-01T00:00:10Z to 2026-01-01T00:01:20Z", plan.Decisions[0].Reason);

        // The same row without the resume: 90 s is on time.
        var notPaused = Plan(Schedule(Every10s()), At(105));
        Assert.Equal([(At(70), FireOutcome.Skipped, 7, false), (At(80), FireOutcome.Fired, 1, false), (At(90), FireOutcome.Fired, 1, true),
            (At(100), FireOutcome.Fired, 1, true)], Shape(notPaused));

        // With skip, everything before the resume is skipped in one row.
        var skip = Plan(Schedule(Every10s(), MisfirePolicy.Skip) with { MissedBefore = At(100) }, At(105));
        Assert.Equal([(At(90), FireOutcome.Skipped, 9, false), (At(100), FireOutcome.Fired, 1, true)], Shape(skip));

        // A resume long ago changes nothing.
        var old = Plan(Schedule(Every10s()) with { MissedBefore = T0 }, At(12));
        Assert.Equal([(At(10), FireOutcome.Fired, 1, true)], Shape(old));
    }

    [Fact]
    public void Missed_before_later_than_now_never_decides_a_due_time_still_to_come()
    {
        // The database clock stepped back after a resume: missed_before (200 s) is ahead of now (105 s).
        var schedule = Schedule(Every10s()) with { MissedBefore = At(200) };
        var decided = new HashSet<DateTimeOffset>();

        var first = Plan(schedule, At(105));
        Assert.Equal([(At(90), FireOutcome.Skipped, 9, false), (At(100), FireOutcome.Fired, 1, false)], Shape(first));
        Assert.Equal(At(110), first.NextDueAt);
        Assert.All(first.Decisions, d => Assert.True(decided.Add(d.DueAt)));

        // The next passes go on from there; no due time is decided twice (its row would collide).
        var second = Plan(schedule with { NextDueAt = first.NextDueAt }, At(150));
        Assert.Equal([(At(140), FireOutcome.Skipped, 4, false), (At(150), FireOutcome.Fired, 1, false)], Shape(second));
        Assert.All(second.Decisions, d => Assert.True(decided.Add(d.DueAt)));

        var third = Plan(schedule with { NextDueAt = second.NextDueAt }, At(210));
        Assert.Equal([(At(180), FireOutcome.Skipped, 3, false), (At(190), FireOutcome.Fired, 1, false), (At(200), FireOutcome.Fired, 1, true),
            (At(210), FireOutcome.Fired, 1, true)], Shape(third));
        Assert.All(third.Decisions, d => Assert.True(decided.Add(d.DueAt)));
        Assert.Equal(At(220), third.NextDueAt);
    }

    public static TheoryData<string> EverySecond => ["interval", "@every_second", "* * * * * *"];

    [Theory]
    [MemberData(nameof(EverySecond))]
    public void Past_the_enumeration_cap_the_latest_missed_fire_and_the_rest_are_counted_as_a_lower_bound(string kind)
    {
        // Every second, down for 30 days (2,592,000 due times), catch_up 5.
        var timing = kind == "interval" ? ScheduleTiming.Every(TimeSpan.FromSeconds(1), T0, null, null) : Cron(kind);
        var now = T0.AddDays(30);
        var schedule = Schedule(timing, MisfirePolicy.CatchUp, 5, nextDue: 1);

        var plan = Plan(schedule, now);

        // The five latest missed (now − 20 s .. now − 16 s) catch up; now − 15 s .. now are on time.
        List<(DateTimeOffset, FireOutcome, int, bool)> expected =
        [
            (now.AddSeconds(-21), FireOutcome.Skipped, FirePlan.EnumerationLimit - 5, false),
            .. Enumerable.Range(16, 5).Reverse().Select(s => (now.AddSeconds(-s), FireOutcome.Fired, 1, false)),
            .. Enumerable.Range(0, 16).Reverse().Select(s => (now.AddSeconds(-s), FireOutcome.Fired, 1, true)),
        ];
        Assert.Equal(expected, Shape(plan));
        Assert.Equal("missed: more than 9,995 due time(s) from 2026-01-01T00:00:01Z to 2026-01-30T23:59:39Z passed while nothing could fire them "
            + "(misfire policy catch_up, catch_up_max 5)", plan.Decisions[0].Reason);
        Assert.Equal(now.AddSeconds(1), plan.NextDueAt);
        Assert.Equal(now, plan.LastDueAt);
        Assert.Equal(Id(21), plan.LastExecutionId);
    }

    // Overlap policies with the previous run unfinished.

    private static DueSchedule Busy(OverlapPolicy overlap, string status = "RUNNING") =>
        Schedule(Every10s(), overlap: overlap) with { LastExecutionId = Previous, LastRunUnfinished = status };

    [Fact]
    public void Overlap_allow_fires_whatever_the_previous_run_is_doing()
    {
        var plan = Plan(Busy(OverlapPolicy.Allow), At(22));

        Assert.Equal([(At(10), FireOutcome.Fired, 1, true), (At(20), FireOutcome.Fired, 1, true)], Shape(plan));
        Assert.Equal([Id(1), Id(2)], plan.Decisions.Select(d => d.ExecutionId!.Value));
        Assert.Equal(Id(2), plan.LastExecutionId);
        Assert.Null(plan.CancelExecutionId);
    }

    [Fact]
    public void Overlap_skip_skips_while_the_previous_run_is_unfinished()
    {
        var plan = Plan(Busy(OverlapPolicy.Skip), At(22));

        Assert.Equal([(At(10), FireOutcome.Skipped, 1, false), (At(20), FireOutcome.Skipped, 1, false)], Shape(plan));
        Assert.All(plan.Decisions, d =>
        {
            Assert.Null(d.ExecutionId);
            Assert.Equal($"overlap policy skip: the previous run {Previous} is RUNNING", d.Reason);
        });
        Assert.Equal(Previous, plan.LastExecutionId);
        Assert.Equal(At(20), plan.LastDueAt);
        Assert.Equal(At(30), plan.NextDueAt);
    }

    [Fact]
    public void Overlap_skip_with_the_previous_run_finished_fires_once_and_skips_the_rest_of_the_pass()
    {
        var plan = Plan(Schedule(Every10s(), overlap: OverlapPolicy.Skip) with { LastExecutionId = Previous }, At(22));

        Assert.Equal([(At(10), FireOutcome.Fired, 1, true), (At(20), FireOutcome.Skipped, 1, false)], Shape(plan));
        Assert.Equal($"overlap policy skip: the previous run {Id(1)} is PENDING", plan.Decisions[1].Reason);
        Assert.Equal(Id(1), plan.LastExecutionId);
    }

    [Fact]
    public void Overlap_queue_queues_one_due_time_and_skips_the_next()
    {
        var plan = Plan(Busy(OverlapPolicy.Queue), At(22));

        Assert.Equal([(At(10), FireOutcome.Queued, 1, false), (At(20), FireOutcome.Skipped, 1, false)], Shape(plan));
        Assert.Equal($"overlap policy queue: waits for the previous run {Previous} (RUNNING)", plan.Decisions[0].Reason);
        Assert.Equal($"overlap policy queue: the run due at 2026-01-01T00:00:10Z is already queued behind {Previous}", plan.Decisions[1].Reason);
        Assert.All(plan.Decisions, d => Assert.Null(d.ExecutionId));
        Assert.Equal(At(10), plan.QueuedDueAt);
        Assert.Equal(Previous, plan.LastExecutionId);
        Assert.Equal(At(20), plan.LastDueAt);
    }

    [Fact]
    public void Overlap_queue_with_a_run_already_queued_skips()
    {
        var plan = Plan(Busy(OverlapPolicy.Queue) with { QueuedDueAt = T0 }, At(12));

        var skipped = Assert.Single(plan.Decisions);
        Assert.Equal((At(10), FireOutcome.Skipped), (skipped.DueAt, skipped.Outcome));
        Assert.Equal($"overlap policy queue: the run due at 2026-01-01T00:00:00Z is already queued behind {Previous}", skipped.Reason);
        Assert.Equal(T0, plan.QueuedDueAt);
        Assert.Equal(Previous, plan.LastExecutionId);
    }

    [Fact]
    public void A_queued_run_fires_once_the_previous_run_finished()
    {
        // Picked for its queued run alone: nothing else is due yet.
        var schedule = Schedule(Every10s(), overlap: OverlapPolicy.Queue, nextDue: 20) with { LastExecutionId = Previous, QueuedDueAt = At(10) };

        var plan = Plan(schedule, At(12));

        var fired = Assert.Single(plan.Decisions);
        Assert.Equal(At(10), fired.DueAt);
        Assert.Equal(FireOutcome.Fired, fired.Outcome);
        Assert.True(fired.FromQueue);
        Assert.False(fired.OnTime);
        Assert.Equal(Id(1), fired.ExecutionId);
        Assert.Equal($"queued behind execution {Previous}", fired.Reason);
        Assert.Null(plan.QueuedDueAt);
        Assert.Equal(Id(1), plan.LastExecutionId);
        Assert.Equal(At(20), plan.NextDueAt);
        Assert.Null(plan.LastDueAt); // recorded when it was queued
    }

    [Fact]
    public void A_queued_run_fires_and_the_next_due_time_queues_behind_it()
    {
        var schedule = Schedule(Every10s(), overlap: OverlapPolicy.Queue, nextDue: 10) with { LastExecutionId = Previous, QueuedDueAt = T0 };

        var plan = Plan(schedule, At(12));

        Assert.Equal([(T0, FireOutcome.Fired, 1, false), (At(10), FireOutcome.Queued, 1, false)], Shape(plan));
        Assert.True(plan.Decisions[0].FromQueue);
        Assert.Equal($"overlap policy queue: waits for the previous run {Id(1)} (PENDING)", plan.Decisions[1].Reason);
        Assert.Equal(At(10), plan.QueuedDueAt);
        Assert.Equal(Id(1), plan.LastExecutionId);
    }

    [Fact]
    public void Overlap_cancel_fires_and_cancels_the_previous_run()
    {
        var plan = Plan(Busy(OverlapPolicy.Cancel), At(12));

        var fired = Assert.Single(plan.Decisions);
        Assert.Equal((At(10), FireOutcome.Fired, Id(1)), (fired.DueAt, fired.Outcome, fired.ExecutionId));
        Assert.Equal($"overlap policy cancel: cancelled the previous run {Previous} (RUNNING)", fired.Reason);
        Assert.Equal(Previous, plan.CancelExecutionId);
        Assert.Equal(Id(1), plan.LastExecutionId);
    }

    [Fact]
    public void Overlap_cancel_with_two_due_times_in_one_pass_creates_only_the_later()
    {
        var plan = Plan(Busy(OverlapPolicy.Cancel), At(22));

        Assert.Equal([(At(10), FireOutcome.Skipped, 1, true), (At(20), FireOutcome.Fired, 1, true)], Shape(plan));
        Assert.Null(plan.Decisions[0].ExecutionId);
        Assert.Equal("overlap policy cancel: superseded by the run due at 2026-01-01T00:00:20Z in the same pass", plan.Decisions[0].Reason);
        Assert.Equal(Id(2), plan.Decisions[1].ExecutionId);
        // The run that stands says it cancelled the previous one: the superseded fire that first said so is gone.
        Assert.Equal($"overlap policy cancel: cancelled the previous run {Previous} (RUNNING)", plan.Decisions[1].Reason);
        Assert.Equal(Previous, plan.CancelExecutionId);
        Assert.Equal(Id(2), plan.LastExecutionId);
    }

    [Fact]
    public void Overlap_cancel_with_the_previous_run_finished_cancels_nothing()
    {
        var plan = Plan(Schedule(Every10s(), overlap: OverlapPolicy.Cancel) with { LastExecutionId = Previous }, At(12));

        var fired = Assert.Single(plan.Decisions);
        Assert.Equal((FireOutcome.Fired, Id(1)), (fired.Outcome, fired.ExecutionId));
        Assert.Null(fired.Reason);
        Assert.Null(plan.CancelExecutionId);
    }

    // The end of a schedule.

    [Fact]
    public void Reaching_ends_at_leaves_no_next_due_time()
    {
        var plan = Plan(Schedule(Every10s(endsAt: At(30)), nextDue: 30), At(31));

        Assert.Equal([(At(30), FireOutcome.Fired, 1, true)], Shape(plan));
        Assert.Null(plan.NextDueAt);
        Assert.Equal(At(30), plan.LastDueAt);
    }

    [Fact]
    public void An_outage_past_ends_at_plans_only_the_due_times_before_it()
    {
        var plan = Plan(Schedule(Every10s(endsAt: At(100))), At(1000));

        Assert.Equal([(At(90), FireOutcome.Skipped, 9, false), (At(100), FireOutcome.Fired, 1, false)], Shape(plan));
        Assert.Null(plan.NextDueAt);
    }

    [Fact]
    public void An_ended_schedule_plans_nothing()
    {
        var plan = Plan(Schedule(Every10s(endsAt: At(30))) with { NextDueAt = null }, At(1000));

        Assert.Empty(plan.Decisions);
        Assert.Null(plan.NextDueAt);
        Assert.Null(plan.LastDueAt);
    }
}
