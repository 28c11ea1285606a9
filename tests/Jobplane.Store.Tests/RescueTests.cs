using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class RescueTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_claim_that_waited_behind_a_rescue_records_its_start_after_the_rescue()
    {
        var (tenant, _, first) = await RunningAsync(maxAttempts: 3);
        var id = first.ExecutionId;
        await ExpireLeaseAsync(id);

        // Hold the claim after its transaction began but before it takes its snapshot (claims queue
        // for the claim lock), rescue meanwhile, then let it go: the attempt it starts must not appear
        // to begin before the rescue ended the last, although now() in its transaction does.
        await using var blocker = await Db.DataSource.OpenConnectionAsync(Ct);
        await using var tx = await blocker.BeginTransactionAsync(Ct);
        await using (var lockClaims = new Npgsql.NpgsqlCommand($"select pg_advisory_xact_lock({LockKeys.Queue}, {LockKeys.ClaimSlot})", blocker, tx))
            await lockClaims.ExecuteNonQueryAsync(Ct);
        var claim = Queue.ClaimAsync(1, "worker-2", [tenant], Lease, Ct);
        // Wait until the claim is queued behind the lock, not a fixed time: on a loaded machine the
        // claim could otherwise start only after the rescue, and the test would prove nothing.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        bool queued;
        while (!(queued = await Db.ScalarAsync<bool>("""
            select exists (select 1 from pg_locks l join pg_database d on d.oid = l.database
                           where d.datname = current_database() and l.locktype = 'advisory' and not l.granted)
            """)) && DateTime.UtcNow < deadline)
            await Task.Delay(20, Ct);
        Assert.True(queued, "the claim never queued behind the claim lock");
        // At least this one: the class's other tests share the database (they leave no expired lease, but need not).
        Assert.True(await Queue.RescueExpiredAsync(100, Ct) >= 1);
        Assert.Equal("lease_expired", await Db.ScalarAsync<string>(
            "select outcome from execution_attempts where execution_id = $1 and attempt = 1", id));
        await tx.CommitAsync(Ct);

        var second = Assert.Single(await claim);
        Assert.Equal(2, second.Attempt);
        Assert.True(await Db.ScalarAsync<bool>("""
            select b.started_at >= a.ended_at and b.started_at = e.started_at
            from execution_attempts a join execution_attempts b on b.execution_id = a.execution_id and b.attempt = 2
            join executions e on e.id = a.execution_id
            where a.execution_id = $1 and a.attempt = 1
            """, id));
    }

    [Fact]
    public async Task A_rescued_execution_keeps_its_place_in_the_queue()
    {
        var (tenant, job, first) = await RunningAsync(maxAttempts: 3);
        var later = await SubmitAsync(tenant, job);
        await ExpireLeaseAsync(first.ExecutionId);
        await Queue.RescueExpiredAsync(100, Ct);

        // Same priority: the rescued one was due first, so it runs first.
        Assert.Equal(first.ExecutionId, (await ClaimOneAsync(tenant)).ExecutionId);
        Assert.Equal(later, (await ClaimOneAsync(tenant)).ExecutionId);
    }

    [Fact]
    public async Task An_expired_lease_is_requeued_and_counts_the_lost_attempt()
    {
        var (tenant, _, first) = await RunningAsync(maxAttempts: 3);
        var id = first.ExecutionId;
        await ExpireLeaseAsync(id);

        Assert.True(await Queue.RescueExpiredAsync(100, Ct) >= 1);

        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(id));
        Assert.True(await InReadyQueueAsync(id));
        Assert.Equal("lease_expired", await Db.ScalarAsync<string>(
            "select outcome from execution_attempts where execution_id = $1 and attempt = 1", id));
        Assert.True(await Db.ScalarAsync<bool>(
            "select ended_at is not null from execution_attempts where execution_id = $1 and attempt = 1", id));

        var second = await ClaimOneAsync(tenant, worker: "worker-2");
        Assert.Equal(id, second.ExecutionId);
        Assert.Equal(2, second.Attempt);
        Assert.NotEqual(first.LeaseToken, second.LeaseToken);
    }

    [Fact]
    public async Task The_old_token_is_refused_after_a_rescue()
    {
        var (tenant, _, first) = await RunningAsync(maxAttempts: 3);
        var id = first.ExecutionId;
        await ExpireLeaseAsync(id);
        await Queue.RescueExpiredAsync(100, Ct);

        // Refused while the execution waits in the queue...
        await AssertRefusedAsync(first);
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(id));

        // ...and while another worker runs it.
        var second = await ClaimOneAsync(tenant, worker: "worker-2");
        await AssertRefusedAsync(first);
        Assert.Equal(ExecutionStatus.Running, await StatusAsync(id));
        Assert.Equal(second.LeaseToken, await Db.ScalarAsync<Guid>("select lease_token from executions where id = $1", id));
        Assert.Single(await Queue.HeartbeatAsync([new AttemptLease(id, second.LeaseToken)], Lease, Ct));
    }

    private async Task AssertRefusedAsync(ClaimedAttempt stale)
    {
        var id = stale.ExecutionId;
        Assert.Equal(LeaseCheck.LeaseLost, (await SucceedAsync(stale)).Check);
        Assert.Empty(await Queue.HeartbeatAsync([new AttemptLease(id, stale.LeaseToken)], Lease, Ct));
        Assert.Equal(LeaseCheck.LeaseLost, await Queue.AppendLogsAsync(id, stale.LeaseToken, [new NewLogLine("late line", "stdout")], Ct));
        Assert.Equal(LeaseCheck.LeaseLost, await Queue.ReleaseAsync(id, stale.LeaseToken, "draining", Ct));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from execution_logs where execution_id = $1", id));
    }

    [Fact]
    public async Task Losing_the_last_allowed_attempt_fails_into_the_dead_letter_queue()
    {
        var (tenant, job, claim) = await RunningAsync(maxAttempts: 1);
        var id = claim.ExecutionId;
        await ExpireLeaseAsync(id);

        Assert.True(await Queue.RescueExpiredAsync(100, Ct) >= 1);

        Assert.Equal(ExecutionStatus.Failed, await StatusAsync(id));
        Assert.False(await InReadyQueueAsync(id));
        Assert.Empty(await ClaimAsync(tenant));
        var view = await Executions.GetAsync(tenant, id, Ct);
        Assert.Contains("lease", view!.Error);
        Assert.NotNull(view.CompletedAt);
        var entry = Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.Equal(id, entry.ExecutionId);
        Assert.Equal(job, entry.JobId);
        Assert.Equal(1, entry.Attempts);
        Assert.Contains("lease", entry.ErrorMessage);
        Assert.Equal(LeaseCheck.LeaseLost, (await SucceedAsync(claim)).Check);
    }

    [Fact]
    public async Task A_live_lease_is_left_alone()
    {
        var (_, _, claim) = await RunningAsync();

        await Queue.RescueExpiredAsync(100, Ct);

        Assert.Equal(ExecutionStatus.Running, await StatusAsync(claim.ExecutionId));
        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(claim)).Status);
    }

    [Fact]
    public async Task A_heartbeat_keeps_an_execution_from_being_rescued()
    {
        var (_, _, claim) = await RunningAsync();
        await ExpireLeaseAsync(claim.ExecutionId);

        // The worker heartbeats before maintenance gets to it: the lease is held again.
        Assert.Single(await Queue.HeartbeatAsync([new AttemptLease(claim.ExecutionId, claim.LeaseToken)], Lease, Ct));
        await Queue.RescueExpiredAsync(100, Ct);

        Assert.Equal(ExecutionStatus.Running, await StatusAsync(claim.ExecutionId));
        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(claim)).Status);
    }
}
