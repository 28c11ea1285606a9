using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Npgsql;
using static Jobplane.Api.ExecutionStatus;

namespace Jobplane.Store.Tests;

/// <summary>Every transition path appends its execution_events row, in the transaction that makes the transition.</summary>
public sealed class ExecutionEventTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private async Task<List<string>> EventsAsync(Guid executionId)
    {
        await using var cmd = Db.DataSource.CreateCommand("""
            select coalesce(from_status, 'NEW') || ' ' || kind || ' ' || to_status || ' #' || attempt || coalesce(' @' || worker_id, '')
            from execution_events where execution_id = $1 order by id
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = executionId });
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        var list = new List<string>();
        while (await reader.ReadAsync(Ct)) list.Add(reader.GetString(0));
        return list;
    }

    /// <summary>Runs <paramref name="act"/> while inserts into <paramref name="table"/> matching <paramref name="when"/> fail; it must fail.</summary>
    private async Task WhileRefusingAsync(string table, string when, Func<Task> act)
    {
        await ExecAsync($"""
            create function refuse_in_test() returns trigger language plpgsql as $$
            begin
                if {when} then raise exception 'refused by the test'; end if;
                return new;
            end $$;
            create trigger refuse_in_test before insert on {table} for each row execute function refuse_in_test();
            """);
        try
        {
            await Assert.ThrowsAsync<PostgresException>(act);
        }
        finally
        {
            await ExecAsync($"drop trigger refuse_in_test on {table}; drop function refuse_in_test()");
        }
    }

    [Fact]
    public async Task A_life_of_retries_rescues_and_hand_backs_is_recorded_step_by_step()
    {
        var (tenant, _, first) = await RunningAsync(maxAttempts: 3);
        var id = first.ExecutionId;
        Assert.Equal(Retrying, (await FailAsync(first)).Status);
        await MakeDueAsync(id);
        await Queue.PromoteDueAsync(1000, Ct);
        var second = await ClaimOneAsync(tenant, "worker-2");
        await ExpireLeaseAsync(id);
        await Queue.RescueExpiredAsync(1000, Ct);
        var third = await ClaimOneAsync(tenant, "worker-3");
        Assert.Equal(LeaseCheck.Accepted, await Queue.ReleaseAsync(id, third.LeaseToken, "draining", Ct));
        var fourth = await ClaimOneAsync(tenant, "worker-4");
        Assert.Equal(Succeeded, (await SucceedAsync(fourth)).Status);

        Assert.Equal([
            $"NEW submitted {Pending} #0",
            $"{Pending} claimed {Running} #1 @worker-1",
            $"{Running} failed {Retrying} #1 @worker-1",
            $"{Retrying} promoted {Pending} #1",
            $"{Pending} claimed {Running} #2 @worker-2",
            $"{Running} lost {Pending} #2 @worker-2",
            $"{Pending} claimed {Running} #3 @worker-3",
            $"{Running} handed_back {Pending} #3 @worker-3",
            $"{Pending} claimed {Running} #4 @worker-4",
            $"{Running} succeeded {Succeeded} #4 @worker-4",
        ], await EventsAsync(id));
        Assert.Equal(tenant, await Db.ScalarAsync<Guid>("select distinct tenant_id from execution_events where execution_id = $1", id));
    }

    [Fact]
    public async Task Cancels_of_waiting_and_running_executions_are_recorded()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var later = await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1));
        var running = await SubmitAsync(tenant, job);
        var claim = await ClaimOneAsync(tenant);
        await Executions.CancelAsync(tenant, later, Ct);
        await Executions.CancelAsync(tenant, running, Ct);
        // Asked again (a tenant repeating the call): the same answer, and no second event, so repeated
        // cancels cannot make the platform store without bound.
        Assert.Equal(Running, (await Executions.CancelAsync(tenant, running, Ct))!.Status);
        Assert.Equal(0, (await Executions.CancelJobAsync(tenant, (await Executions.GetAsync(tenant, running, Ct))!.JobId, Ct))!.Cancelled);
        Assert.Equal(Cancelled, (await FailAsync(claim, "stopped")).Status);

        Assert.Equal([$"NEW submitted {Scheduled} #0", $"{Scheduled} cancelled {Cancelled} #0"], await EventsAsync(later));
        Assert.Equal([
            $"NEW submitted {Pending} #0",
            $"{Pending} claimed {Running} #1 @worker-1",
            $"{Running} cancelled {Running} #1 @worker-1",
            $"{Running} failed {Cancelled} #1 @worker-1",
        ], await EventsAsync(running));
    }

    [Fact]
    public async Task A_job_cancel_records_each_execution_it_cancels()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var ids = (await Executions.RunManyAsync(tenant, job, 3, new RunOptions(null, null, null), Ct))!.ExecutionIds;

        var result = await Executions.CancelJobAsync(tenant, job, Ct);

        Assert.Equal(3, result!.Cancelled);
        foreach (var id in ids)
            Assert.Equal([$"NEW submitted {Pending} #0", $"{Pending} cancelled {Cancelled} #0"], await EventsAsync(id));
    }

    [Fact]
    public async Task Dead_letters_and_their_retries_are_recorded()
    {
        var (tenant, _, dead) = await DeadLetteredAsync();
        var (_, _, alsoDead) = await DeadLetteredAsync(tenant);

        var one = await Executions.RetryDeadLetterAsync(tenant, dead, Ct);
        var bulk = await Executions.RetryDeadLettersAsync(tenant, null, 1000, Ct);

        Assert.Equal($"{Running} failed {Failed} #1 @worker-1", (await EventsAsync(dead))[^1]);
        Assert.Equal([$"NEW retried_from_dlq {Pending} #0"], await EventsAsync(one!.Value));
        Assert.Equal([$"NEW retried_from_dlq {Pending} #0"], await EventsAsync(Assert.Single(bulk.NewExecutionIds)));
        Assert.Equal($"{Running} failed {Failed} #1 @worker-1", (await EventsAsync(alsoDead))[^1]);
    }

    [Fact]
    public async Task A_lost_lease_with_no_attempts_left_is_recorded_with_its_reason()
    {
        var (_, _, claim) = await RunningAsync(maxAttempts: 1);
        await ExpireLeaseAsync(claim.ExecutionId);
        await Queue.RescueExpiredAsync(1000, Ct);

        Assert.Equal($"{Running} lost {Failed} #1 @worker-1", (await EventsAsync(claim.ExecutionId))[^1]);
        Assert.StartsWith("lease expired: worker worker-1", await Db.ScalarAsync<string>(
            "select reason from execution_events where execution_id = $1 and kind = 'lost'", claim.ExecutionId));
    }

    [Fact]
    public async Task A_long_error_is_kept_whole_on_the_attempt_and_bounded_on_the_event()
    {
        var (_, _, claim) = await RunningAsync(maxAttempts: 1);
        var error = new string('x', 5000);

        await FailAsync(claim, error);

        Assert.Equal(EventKinds.MaxReasonChars, await Db.ScalarAsync<int>(
            "select char_length(reason) from execution_events where execution_id = $1 and kind = 'failed'", claim.ExecutionId));
        Assert.Equal(5000, await Db.ScalarAsync<int>(
            "select char_length(error) from execution_attempts where execution_id = $1", claim.ExecutionId));
    }

    [Fact]
    public async Task A_completion_that_fails_to_commit_leaves_no_event_and_no_transition()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 1);
        // A dead letter of this tenant cannot be written: the completion's transaction fails.
        await WhileRefusingAsync("dead_letters", $"new.tenant_id = '{tenant}'", () => FailAsync(claim));

        Assert.Equal(Running, await StatusAsync(claim.ExecutionId));
        Assert.Equal([$"NEW submitted {Pending} #0", $"{Pending} claimed {Running} #1 @worker-1"], await EventsAsync(claim.ExecutionId));
    }

    [Fact]
    public async Task A_rescue_that_fails_to_commit_leaves_no_event_and_no_transition()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 1);
        await ExpireLeaseAsync(claim.ExecutionId);
        // The rescue's event cannot be written: its transaction fails after the rows were locked.
        await WhileRefusingAsync("execution_events", $"new.tenant_id = '{tenant}' and new.kind = 'lost'",
            () => Queue.RescueExpiredAsync(1000, Ct));

        Assert.Equal(Running, await StatusAsync(claim.ExecutionId));
        Assert.Null(await Db.ScalarAsync<object>("select outcome from execution_attempts where execution_id = $1", claim.ExecutionId) as string);
        Assert.Equal(0, await Db.ScalarAsync<long>("select count(*) from dead_letters where execution_id = $1", claim.ExecutionId));
    }
}
