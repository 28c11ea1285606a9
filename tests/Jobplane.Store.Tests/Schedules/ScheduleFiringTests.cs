using Jobplane.Api;
using Jobplane.Store.Schedules;
using Jobplane.Testing;
using Npgsql;

namespace Jobplane.Store.Tests.Schedules;

/// <summary>
/// Firing against real PostgreSQL: one execution per due time however many firers run at once, the
/// misfire policies after an outage of minutes or days, pause and resume, the overlap policies, the
/// Idempotency-Key prefix, manual triggers, suspended tenants, and the unique key that turns a second
/// firing of a due time into an error. An outage is a schedule whose next due time lies in the past,
/// which is exactly what a platform that was down leaves behind.
/// </summary>
public sealed class ScheduleFiringTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);
    private ScheduleStore Schedules { get; } = new(db.DataSource);
    private ScheduleFirer Firer { get; } = new(db.DataSource);

    private async Task<(Guid Tenant, Guid Job, ScheduleRecord Schedule)> ScheduleAsync(string cron, Func<ScheduleDefinition, ScheduleDefinition>? with = null)
    {
        var (tenant, job) = await TenantWithJobAsync();
        var definition = new ScheduleDefinition($"s-{Guid.NewGuid():N}", job) { Cron = cron };
        if (with is not null) definition = with(definition);
        var (created, refusal) = await Schedules.CreateAsync(tenant, definition, "test", 100, Ct);
        Assert.Equal(ScheduleRefusal.None, refusal);
        return (tenant, job, created!);
    }

    /// <summary>Moves the schedule's next due time to <paramref name="sql"/> (evaluated by the database): what an outage leaves.</summary>
    private Task SetNextDueAsync(Guid schedule, string sql) =>
        ExecAsync($"update schedules set next_due_at = {sql} where id = $1", schedule);

    /// <summary>The last multiple of ten seconds at or before the database's now, minus <paramref name="back"/>.</summary>
    private const string TenSecondsAgo = "to_timestamp(floor(extract(epoch from now()) / 10) * 10)";

    private async Task<List<(DateTimeOffset Due, Guid? Execution, string Outcome, int Missed, string? Reason, DateTimeOffset FiredAt)>> FiresAsync(Guid schedule)
    {
        await using var cmd = Db.DataSource.CreateCommand(
            "select due_at, execution_id, outcome, missed, reason, fired_at from schedule_fires where schedule_id = $1 and trigger = 'schedule' order by due_at");
        cmd.Parameters.Add(new NpgsqlParameter { Value = schedule });
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        var list = new List<(DateTimeOffset, Guid?, string, int, string?, DateTimeOffset)>();
        while (await reader.ReadAsync(Ct))
        {
            list.Add((reader.GetFieldValue<DateTimeOffset>(0), reader.IsDBNull(1) ? null : reader.GetGuid(1), reader.GetString(2),
                reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5)));
        }
        return list;
    }

    private Task<long> ExecutionsOfAsync(Guid schedule) =>
        Db.ScalarAsync<long>("select count(*) from executions where schedule_id = $1", schedule);

    private async Task FireAsync()
    {
        while ((await Firer.FireDueAsync(500, Grace, Ct)).Schedules == 500) { }
    }

    /// <summary>
    /// The schedule's fires without the records of missed due times. A test that stalls past the grace
    /// window (a loaded machine) leaves one of those between two fires, rightly; the tests of what
    /// happens between consecutive runs look at the due times that were fired on time.
    /// </summary>
    private async Task<List<(DateTimeOffset Due, Guid? Execution, string Outcome, int Missed, string? Reason, DateTimeOffset FiredAt)>> OnTimeFiresAsync(Guid schedule) =>
        [.. (await FiresAsync(schedule)).Where(f => f.Reason?.StartsWith("missed:", StringComparison.Ordinal) != true)];

    /// <summary>Fires until the (every-second) schedule has handled <paramref name="count"/> due times on time.</summary>
    private async Task FireUntilAsync(Guid schedule, int count)
    {
        while ((await OnTimeFiresAsync(schedule)).Count < count)
        {
            await FireAsync();
            await Task.Delay(50, Ct);
        }
    }

    [Fact]
    public async Task A_due_schedule_fires_one_queued_execution_that_records_its_schedule_and_due_time()
    {
        var (tenant, _, schedule) = await ScheduleAsync("* * * * *");
        await SetNextDueAsync(schedule.Id, "date_trunc('minute', now()) - interval '1 second' + interval '1 second'");
        var due = await Db.ScalarAsync<DateTime>("select next_due_at from schedules where id = $1", schedule.Id);
        // Due this minute; fired at once as long as the minute began less than the grace ago, else missed
        // and fired once by the default policy (fire_once): either way exactly one execution.
        await FireAsync();

        var fires = await FiresAsync(schedule.Id);
        var fired = Assert.Single(fires, f => f.Outcome == "fired");
        var execution = await Executions.GetAsync(tenant, fired.Execution!.Value, Ct);
        Assert.Equal(ExecutionStatus.Pending, execution!.Status);
        Assert.True(await InReadyQueueAsync(execution.Id));
        Assert.Equal(schedule.Id, execution.ScheduleId);
        Assert.Equal(new DateTimeOffset(DateTime.SpecifyKind(due, DateTimeKind.Utc)), execution.ScheduleDueAt);
        var after = await Schedules.GetAsync(tenant, schedule.Id, Ct);
        Assert.True(after!.NextDueAt > execution.CreatedAt, "the next due time moved past the firing");
        Assert.Equal(execution.Id, after.LastExecutionId);

        // Nothing is due any more: another pass fires nothing.
        await FireAsync();
        Assert.Equal(1, await ExecutionsOfAsync(schedule.Id));
    }

    [Fact]
    public async Task Five_firers_at_once_create_exactly_one_execution_per_due_time_and_miss_none()
    {
        var (_, _, schedule) = await ScheduleAsync("* * * * * *");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(6));
        var firers = Enumerable.Range(0, 5).Select(_ => Task.Run(async () =>
        {
            var firer = new ScheduleFirer(Db.DataSource);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await firer.FireDueAsync(50, TimeSpan.FromSeconds(10), stop.Token);
                    await Task.Delay(20, stop.Token);
                }
                catch (OperationCanceledException) { }
            }
        })).ToArray();
        await Task.WhenAll(firers);
        await Schedules.PauseAsync((await Db.ScalarAsync<Guid>("select tenant_id from schedules where id = $1", schedule.Id)), schedule.Id, "test", Ct);

        var dues = new List<DateTime>();
        await using (var cmd = Db.DataSource.CreateCommand("select schedule_due_at from executions where schedule_id = $1 order by schedule_due_at"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = schedule.Id });
            await using var reader = await cmd.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct)) dues.Add(reader.GetDateTime(0));
        }
        Assert.True(dues.Count >= 4, $"an every-second schedule fired {dues.Count} times in 6 s");
        Assert.Equal(dues.Count, dues.Distinct().Count());
        for (var i = 1; i < dues.Count; i++) Assert.Equal(TimeSpan.FromSeconds(1), dues[i] - dues[i - 1]);
        Assert.Equal(0, await Db.ScalarAsync<long>("select count(*) from schedule_fires where schedule_id = $1 and outcome <> 'fired'", schedule.Id));
    }

    [Fact]
    public async Task A_second_firer_takes_the_next_due_schedules_while_the_first_holds_its_own()
    {
        var schedules = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            var (_, _, s) = await ScheduleAsync("*/10 * * * * *");
            await SetNextDueAsync(s.Id, $"{TenSecondsAgo} - interval '{4 - i} milliseconds'");
            schedules.Add(s.Id);
        }
        // The first firer's transaction holds the two most overdue.
        await using var conn = await Db.DataSource.OpenConnectionAsync(Ct);
        await using var tx = await conn.BeginTransactionAsync(Ct);
        await using (var hold = new NpgsqlCommand("select id from schedules where id = any($1) order by next_due_at limit 2 for update", conn, tx))
        {
            hold.Parameters.Add(new NpgsqlParameter { Value = schedules.ToArray() });
            await hold.ExecuteNonQueryAsync(Ct);
        }
        var report = await Firer.FireDueAsync(2, TimeSpan.FromMinutes(1), Ct);
        Assert.Equal(2, report.Schedules);
        var counts = new List<long>();
        foreach (var id in schedules) counts.Add(await ExecutionsOfAsync(id));
        Assert.Equal([0L, 0L, 1L, 1L], counts);
        await tx.RollbackAsync(Ct);
        foreach (var id in schedules) await ExecAsync("delete from schedules where id = $1", id);
    }

    [Theory]
    [InlineData("5 minutes")]
    [InlineData("3 days")]
    public async Task After_an_outage_each_misfire_policy_does_exactly_what_it_says(string outage)
    {
        var skip = await ScheduleAsync("*/10 * * * * *", d => d with { Misfire = MisfirePolicy.Skip });
        var once = await ScheduleAsync("*/10 * * * * *", d => d with { Misfire = MisfirePolicy.FireOnce });
        var catchUp = await ScheduleAsync("*/10 * * * * *", d => d with { Misfire = MisfirePolicy.CatchUp, CatchUpMax = 3 });
        foreach (var s in new[] { skip, once, catchUp }) await SetNextDueAsync(s.Schedule.Id, $"{TenSecondsAgo} - interval '{outage}'");
        var firstMissed = await Db.ScalarAsync<DateTime>("select next_due_at from schedules where id = $1", skip.Schedule.Id);
        await FireAsync();

        var expectedKept = new Dictionary<Guid, int> { [skip.Schedule.Id] = 0, [once.Schedule.Id] = 1, [catchUp.Schedule.Id] = 3 };
        var truncated = outage == "3 days"; // 25,920 missed due times: more than are walked one by one
        foreach (var (id, kept) in expectedKept)
        {
            var fires = await FiresAsync(id);
            var firedAt = fires[0].FiredAt;
            var boundary = firedAt - Grace;
            var missedFires = fires.Where(f => f.Due < boundary).ToList();
            var skipped = Assert.Single(missedFires, f => f.Outcome == "skipped");
            var caughtUp = missedFires.Where(f => f.Outcome == "fired").ToList();
            Assert.Equal(kept, caughtUp.Count);
            // The catch-up runs are the latest missed due times, right after the skipped ones.
            for (var i = 0; i < caughtUp.Count; i++) Assert.Equal(skipped.Due + TimeSpan.FromSeconds(10 * (i + 1)), caughtUp[i].Due);
            var latestMissed = caughtUp.Count > 0 ? caughtUp[^1].Due : skipped.Due;
            Assert.True(latestMissed + TimeSpan.FromSeconds(10) >= boundary, "the latest missed due time was handled");
            var skippedCount = (int)((skipped.Due - new DateTimeOffset(DateTime.SpecifyKind(firstMissed, DateTimeKind.Utc))).TotalSeconds / 10) + 1;
            if (truncated)
            {
                Assert.Equal(FirePlan.EnumerationLimit - kept, skipped.Missed);
                Assert.Contains("more than", skipped.Reason);
            }
            else
            {
                Assert.Equal(skippedCount, skipped.Missed);
            }
            Assert.Contains("missed", skipped.Reason);
            // Nothing else: due times on time (within the grace) fired, one each.
            Assert.All(fires.Where(f => f.Due >= boundary), f => Assert.Equal("fired", f.Outcome));
            Assert.Equal(fires.Count(f => f.Outcome == "fired"), await ExecutionsOfAsync(id));
            // And the schedule is back on time.
            Assert.True(await Db.ScalarAsync<bool>("select next_due_at > now() from schedules where id = $1", id));
        }
    }

    [Fact]
    public async Task A_paused_schedule_fires_nothing_and_on_resume_its_misfire_policy_handles_what_came_due_meanwhile()
    {
        var (tenant, _, schedule) = await ScheduleAsync("*/10 * * * * *", d => d with { Misfire = MisfirePolicy.FireOnce });
        var paused = await Schedules.PauseAsync(tenant, schedule.Id, "test", Ct);
        Assert.NotNull(paused!.PausedAt);
        await SetNextDueAsync(schedule.Id, $"{TenSecondsAgo} - interval '1 minute'");
        await FireAsync();
        Assert.Equal(0, await ExecutionsOfAsync(schedule.Id));
        Assert.Empty(await FiresAsync(schedule.Id));

        await Schedules.ResumeAsync(tenant, schedule.Id, "test", Ct);
        await FireAsync();
        var fires = await FiresAsync(schedule.Id);
        // Everything due before the resume was missed, even the due times within the grace: one catch-up run.
        var resumedAt = await Db.ScalarAsync<DateTime>("select missed_before from schedules where id = $1", schedule.Id);
        var beforeResume = fires.Where(f => f.Due.UtcDateTime < resumedAt).ToList();
        Assert.Single(beforeResume, f => f.Outcome == "skipped");
        Assert.Single(beforeResume, f => f.Outcome == "fired");
        Assert.Equal(fires.Count(f => f.Outcome == "fired"), await ExecutionsOfAsync(schedule.Id));
        var audit = await Db.ScalarAsync<long>("select count(*) from audit_log where target = $1 and action in ('schedule.pause', 'schedule.resume')", schedule.Id.ToString());
        Assert.Equal(2, audit);
    }

    [Fact]
    public async Task Overlap_skip_skips_while_the_previous_run_is_unfinished()
    {
        var (_, _, schedule) = await ScheduleAsync("* * * * * *", d => d with { Overlap = OverlapPolicy.Skip });
        await FireUntilAsync(schedule.Id, 1);
        Assert.Equal(1, await ExecutionsOfAsync(schedule.Id));
        await FireUntilAsync(schedule.Id, 2);
        // Two: a pass more than a second late has two due times, both skipped.
        var fires = (await OnTimeFiresAsync(schedule.Id)).Take(2).ToList();
        Assert.Equal(["fired", "skipped"], fires.Select(f => f.Outcome));
        Assert.Contains("overlap policy skip", fires[1].Reason);
        Assert.Contains("PENDING", fires[1].Reason);
        Assert.Equal(1, await ExecutionsOfAsync(schedule.Id));
    }

    [Fact]
    public async Task Overlap_queue_holds_one_run_behind_the_previous_and_starts_it_when_that_one_finishes()
    {
        var (tenant, _, schedule) = await ScheduleAsync("* * * * * *", d => d with { Overlap = OverlapPolicy.Queue });
        await FireUntilAsync(schedule.Id, 1);
        var first = (await OnTimeFiresAsync(schedule.Id))[0].Execution!.Value;
        await FireUntilAsync(schedule.Id, 3);
        await Schedules.PauseAsync(tenant, schedule.Id, "test", Ct);
        var fires = (await OnTimeFiresAsync(schedule.Id)).Take(3).ToList();
        Assert.Equal(["fired", "queued", "skipped"], fires.Select(f => f.Outcome));
        Assert.Contains("already queued", fires[2].Reason);
        Assert.Equal(1, await ExecutionsOfAsync(schedule.Id));

        // The previous run ends: the queued due time fires at the next pass, and only it (the
        // schedule is given no further due times, as if it had reached its end).
        await ExecAsync("update schedules set paused_at = null, next_due_at = null where id = $1", schedule.Id);
        await FireAsync();
        Assert.Equal(1, await ExecutionsOfAsync(schedule.Id));
        await Executions.CancelAsync(tenant, first, Ct);
        await FireAsync();
        fires = (await OnTimeFiresAsync(schedule.Id)).Take(3).ToList();
        Assert.Equal(["fired", "fired", "skipped"], fires.Select(f => f.Outcome));
        Assert.Equal(2, await ExecutionsOfAsync(schedule.Id));
        Assert.Null((await Schedules.GetAsync(tenant, schedule.Id, Ct))!.QueuedDueAt);
    }

    [Fact]
    public async Task Overlap_cancel_cancels_the_previous_run_and_starts_the_new_one()
    {
        var (tenant, _, schedule) = await ScheduleAsync("* * * * * *", d => d with { Overlap = OverlapPolicy.Cancel });
        await FireUntilAsync(schedule.Id, 1);
        var first = (await OnTimeFiresAsync(schedule.Id))[0].Execution!.Value;
        await FireUntilAsync(schedule.Id, 2);
        await Schedules.PauseAsync(tenant, schedule.Id, "test", Ct);
        // The first two runs created. A pass that comes more than a second after the one before
        // (a loaded machine) has two due times in it, and the first of them is recorded as superseded
        // within the pass rather than created and cancelled: what the test asserts is the same.
        var fires = (await OnTimeFiresAsync(schedule.Id)).Where(f => f.Outcome == "fired").Take(2).ToList();
        Assert.Equal(2, fires.Count);
        Assert.Equal(first, fires[0].Execution);
        Assert.Contains($"cancelled the previous run {first}", fires[1].Reason);
        var previous = await Executions.GetAsync(tenant, first, Ct);
        Assert.Equal(ExecutionStatus.Cancelled, previous!.Status);
        Assert.Contains("overlap policy", previous.Error);
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(fires[1].Execution!.Value));
    }

    [Fact]
    public async Task A_fire_whose_idempotency_key_was_already_used_creates_nothing_and_says_why()
    {
        var (tenant, job, schedule) = await ScheduleAsync("* * * * * *", d => d with { IdempotencyPrefix = "nightly-" });
        await SetNextDueAsync(schedule.Id, "date_trunc('second', now())");
        var due = await Db.ScalarAsync<DateTime>("select next_due_at from schedules where id = $1", schedule.Id);
        var key = ScheduleFirer.IdempotencyKey("nightly-", new DateTimeOffset(DateTime.SpecifyKind(due, DateTimeKind.Utc)));
        // The tenant ran that due time by hand, with the key the schedule would use.
        var manual = await Executions.RunAsync(tenant, job, new RunOptions(null, null, null), key, Ct);
        await FireAsync();
        var fire = (await OnTimeFiresAsync(schedule.Id))[0];
        Assert.Equal("skipped", fire.Outcome);
        Assert.Contains(key, fire.Reason);
        Assert.Equal(0, await Db.ScalarAsync<long>("select count(*) from executions where schedule_id = $1 and schedule_due_at = $2", schedule.Id, due));

        // The next due time takes its own key.
        await FireUntilAsync(schedule.Id, 2);
        await Schedules.PauseAsync(tenant, schedule.Id, "test", Ct);
        var fired = Assert.Single((await OnTimeFiresAsync(schedule.Id)).Take(2), f => f.Outcome == "fired");
        Assert.Equal(fired.Execution, await Db.ScalarAsync<Guid>(
            "select execution_id from idempotency_keys where tenant_id = $1 and key like 'nightly-%' and execution_id <> $2", tenant, manual!.ExecutionId));
    }

    [Fact]
    public async Task A_trigger_runs_now_as_a_manual_fire_without_moving_the_next_due_time()
    {
        var (tenant, _, schedule) = await ScheduleAsync("0 3 * * *", d => d with { TimeZone = "Europe/Berlin", Priority = 90 });
        var triggered = await Schedules.TriggerAsync(tenant, schedule.Id, "api_key:abc", Ct);
        var execution = await Executions.GetAsync(tenant, triggered!.Value.ExecutionId, Ct);
        Assert.Equal(ExecutionStatus.Pending, execution!.Status);
        Assert.Equal(90, execution.Priority.Value);
        Assert.Equal(schedule.Id, execution.ScheduleId);
        Assert.Equal(schedule.NextDueAt, (await Schedules.GetAsync(tenant, schedule.Id, Ct))!.NextDueAt);
        var history = (await Schedules.HistoryAsync(tenant, schedule.Id, null, 10, Ct))!.Value.Items;
        var entry = Assert.Single(history);
        Assert.Equal("manual", entry.Trigger);
        Assert.Equal(ExecutionStatus.Pending, entry.ExecutionStatus);
        Assert.Equal(1, await Db.ScalarAsync<long>("select count(*) from audit_log where action = 'schedule.trigger' and target = $1", schedule.Id.ToString()));
    }

    [Fact]
    public async Task A_suspended_tenants_schedules_do_not_fire()
    {
        var (tenant, _, schedule) = await ScheduleAsync("*/10 * * * * *");
        await ExecAsync("update tenants set suspended_at = now() where id = $1", tenant);
        await SetNextDueAsync(schedule.Id, "now() - interval '1 second'");
        await FireAsync();
        Assert.Equal(0, await ExecutionsOfAsync(schedule.Id));

        // However many of its schedules are due, they never take another tenant's place in a pass.
        var more = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var (created, _) = await Schedules.CreateAsync(tenant, new ScheduleDefinition($"more-{i}", (await Db.ScalarAsync<Guid>(
                "select job_id from schedules where id = $1", schedule.Id)))
            { Cron = "*/10 * * * * *" }, "test", 100, Ct);
            await SetNextDueAsync(created!.Id, "now() - interval '1 second'");
            more.Add(created.Id);
        }
        var other = await ScheduleAsync("* * * * * *");
        await SetNextDueAsync(other.Schedule.Id, "date_trunc('second', now())");
        var report = await Firer.FireDueAsync(1, Grace, Ct);
        Assert.Equal(1, report.Schedules);
        Assert.Equal(1, await ExecutionsOfAsync(other.Schedule.Id));
        await Schedules.PauseAsync(other.Tenant, other.Schedule.Id, "test", Ct);
    }

    [Fact]
    public async Task A_due_time_fired_before_cannot_fire_again_the_unique_key_refuses_it_and_nothing_is_created()
    {
        var (_, _, schedule) = await ScheduleAsync("*/10 * * * * *");
        await SetNextDueAsync(schedule.Id, TenSecondsAgo);
        await FireAsync();
        Assert.Equal(1, await ExecutionsOfAsync(schedule.Id));
        // A bug (or a hand) that sets the schedule back to a due time it already fired.
        await ExecAsync("update schedules set next_due_at = (select due_at from schedule_fires where schedule_id = $1) where id = $1", schedule.Id);
        var e = await Assert.ThrowsAsync<PostgresException>(() => Firer.FireDueAsync(500, TimeSpan.FromMinutes(5), Ct));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, e.SqlState);
        Assert.Equal(1, await ExecutionsOfAsync(schedule.Id));
        await ExecAsync("delete from schedules where id = $1", schedule.Id);
    }

    [Fact]
    public async Task Schedules_are_the_tenants_own_bounded_in_number_and_named_once()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var other = await NewTenantAsync();
        ScheduleDefinition Def(string name) => new(name, job) { Cron = "0 * * * *" };
        var (a, _) = await Schedules.CreateAsync(tenant, Def("a"), "test", 2, Ct);
        Assert.Equal(ScheduleRefusal.NameTaken, (await Schedules.CreateAsync(tenant, Def("a"), "test", 2, Ct)).Refusal);
        Assert.Equal(ScheduleRefusal.None, (await Schedules.CreateAsync(tenant, Def("b"), "test", 2, Ct)).Refusal);
        Assert.Equal(ScheduleRefusal.TooMany, (await Schedules.CreateAsync(tenant, Def("c"), "test", 2, Ct)).Refusal);
        // Another tenant's job cannot be scheduled, and another tenant sees nothing of these.
        Assert.Equal(ScheduleRefusal.JobNotFound, (await Schedules.CreateAsync(other, Def("x"), "test", 2, Ct)).Refusal);
        Assert.Null(await Schedules.GetAsync(other, a!.Id, Ct));
        Assert.Null(await Schedules.PauseAsync(other, a.Id, "test", Ct));
        Assert.Null(await Schedules.TriggerAsync(other, a.Id, "test", Ct));
        Assert.Null(await Schedules.HistoryAsync(other, a.Id, null, 10, Ct));
        Assert.False(await Schedules.DeleteAsync(other, a.Id, "test", Ct));
        Assert.Empty((await Schedules.ListPageAsync(other, new PageRequest(10), Ct)).Items);
        Assert.Null((await Schedules.GetAsync(tenant, a.Id, Ct))!.PausedAt);
        Assert.True(await Schedules.DeleteAsync(tenant, a.Id, "test", Ct));
        Assert.Null(await Schedules.GetAsync(tenant, a.Id, Ct));
    }
}
