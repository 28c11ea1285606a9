using System.Collections.Concurrent;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;
using Xunit.Abstractions;

namespace Jobplane.Store.Tests;

/// <summary>
/// Cancelling: work that has not started ends CANCELLED at once and can never be claimed again; a
/// running execution is only marked, learns it at its next heartbeat, and ends CANCELLED when its
/// worker reports (or its lease runs out).
/// </summary>
public sealed class CancelTests(TestDatabase db, ITestOutputHelper output) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static Task<T[]> InParallel<T>(int n, Func<int, Task<T>> action) =>
        Task.WhenAll(Enumerable.Range(0, n).Select(i => Task.Run(() => action(i))));

    private Task<bool> CancelRequestedAsync(Guid executionId) =>
        Db.ScalarAsync<bool>("select cancel_requested_at is not null from executions where id = $1", executionId);

    private Task<long> DeadLetterCountAsync(Guid tenant) =>
        Db.ScalarAsync<long>("select count(*) from dead_letters where tenant_id = $1", tenant);

    private Task<string> AttemptOutcomeAsync(Guid executionId, int attempt) =>
        Db.ScalarAsync<string>("select outcome from execution_attempts where execution_id = $1 and attempt = $2", executionId, attempt);

    /// <summary>Asserts the execution ended CANCELLED, finished, with the request recorded, and is not queued.</summary>
    private async Task AssertCancelledAsync(Guid tenant, Guid executionId)
    {
        Assert.Equal(ExecutionStatus.Cancelled, await StatusAsync(executionId));
        Assert.False(await InReadyQueueAsync(executionId));
        var view = await Executions.GetAsync(tenant, executionId, Ct);
        Assert.NotNull(view!.CompletedAt);
        Assert.NotNull(view.CancelRequestedAt);
        Assert.Contains("cancel", view.Error);
    }

    /// <summary>
    /// Asserts the execution is CANCELLED for good: not queued, not claimable, not revived by
    /// promotion or rescue. Claims the tenant's work, so the tenant must have nothing else queued.
    /// </summary>
    private async Task AssertCancelledForGoodAsync(Guid tenant, Guid executionId)
    {
        await AssertCancelledAsync(tenant, executionId);
        Assert.Empty(await ClaimAsync(tenant));

        // Even once its time has come, maintenance leaves it alone.
        await MakeDueAsync(executionId);
        await Queue.PromoteDueAsync(1000, Ct);
        await Queue.RescueExpiredAsync(1000, Ct);
        Assert.Equal(ExecutionStatus.Cancelled, await StatusAsync(executionId));
        Assert.False(await InReadyQueueAsync(executionId));
        Assert.Empty(await ClaimAsync(tenant));
        await AssertCancelledAsync(tenant, executionId);
    }

    [Fact]
    public async Task A_queued_execution_ends_cancelled_at_once_and_is_never_claimed()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var id = await SubmitAsync(tenant, job);
        Assert.True(await InReadyQueueAsync(id));

        var response = await Executions.CancelAsync(tenant, id, Ct);

        Assert.NotNull(response);
        Assert.Equal(id, response.ExecutionId);
        Assert.Equal(ExecutionStatus.Cancelled, response.Status);
        Assert.True(response.CancelRequested);
        await AssertCancelledForGoodAsync(tenant, id);
        Assert.Equal(0, (await Executions.GetAsync(tenant, id, Ct))!.Attempt);
        Assert.Equal(0L, await DeadLetterCountAsync(tenant));
    }

    [Fact]
    public async Task A_scheduled_execution_ends_cancelled_and_promotion_does_not_revive_it()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var id = await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1));
        Assert.Equal(ExecutionStatus.Scheduled, await StatusAsync(id));

        var response = await Executions.CancelAsync(tenant, id, Ct);

        Assert.Equal(ExecutionStatus.Cancelled, response!.Status);
        await AssertCancelledForGoodAsync(tenant, id);
    }

    [Fact]
    public async Task A_retry_waiting_execution_ends_cancelled_and_its_retry_never_runs()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 3);
        Assert.Equal(ExecutionStatus.Retrying, (await FailAsync(claim)).Status);

        var response = await Executions.CancelAsync(tenant, claim.ExecutionId, Ct);

        Assert.Equal(ExecutionStatus.Cancelled, response!.Status);
        await AssertCancelledForGoodAsync(tenant, claim.ExecutionId);
        // The failed attempt keeps its own outcome; no new attempt was started.
        Assert.Equal("failed", await AttemptOutcomeAsync(claim.ExecutionId, 1));
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from execution_attempts where execution_id = $1", claim.ExecutionId));
    }

    [Fact]
    public async Task A_running_execution_stays_running_with_the_request_recorded_and_heartbeats_report_it()
    {
        var (tenant, _, claim) = await RunningAsync();
        var id = claim.ExecutionId;

        var response = await Executions.CancelAsync(tenant, id, Ct);

        Assert.Equal(ExecutionStatus.Running, response!.Status);
        Assert.True(response.CancelRequested);
        Assert.Equal(ExecutionStatus.Running, await StatusAsync(id));
        var view = await Executions.GetAsync(tenant, id, Ct);
        Assert.NotNull(view!.CancelRequestedAt);
        Assert.Null(view.CompletedAt);
        Assert.False(await InReadyQueueAsync(id));

        var held = Assert.Single(await Queue.HeartbeatAsync([new AttemptLease(id, claim.LeaseToken)], Lease, Ct));
        Assert.Equal(id, held.Id);
        Assert.True(held.CancelRequested);

        // Asking again is harmless and keeps the first request's time.
        var again = await Executions.CancelAsync(tenant, id, Ct);
        Assert.Equal(ExecutionStatus.Running, again!.Status);
        Assert.Equal(view.CancelRequestedAt, (await Executions.GetAsync(tenant, id, Ct))!.CancelRequestedAt);
    }

    [Fact]
    public async Task A_failure_reported_after_a_cancel_request_ends_cancelled_without_a_dead_letter()
    {
        // One attempt only: without the cancel this failure would be FAILED and dead-lettered.
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 1);
        await Executions.CancelAsync(tenant, claim.ExecutionId, Ct);

        var outcome = await FailAsync(claim, "killed by signal 15");

        Assert.Equal(LeaseCheck.Accepted, outcome.Check);
        Assert.Equal(ExecutionStatus.Cancelled, outcome.Status);
        Assert.Equal(ExecutionStatus.Cancelled, await StatusAsync(claim.ExecutionId));
        Assert.Equal("cancelled", await AttemptOutcomeAsync(claim.ExecutionId, 1));
        Assert.Equal(0L, await DeadLetterCountAsync(tenant));
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        var view = await Executions.GetAsync(tenant, claim.ExecutionId, Ct);
        Assert.NotNull(view!.CompletedAt);
        Assert.Contains("cancel", view.Error);
        // Finished: the old token holds nothing, and a cancel is now a conflict.
        Assert.Empty(await Queue.HeartbeatAsync([new AttemptLease(claim.ExecutionId, claim.LeaseToken)], Lease, Ct));
        await Assert.ThrowsAsync<StoreConflictException>(() => Executions.CancelAsync(tenant, claim.ExecutionId, Ct));
    }

    [Fact]
    public async Task A_retryable_failure_with_attempts_left_after_a_cancel_request_is_not_retried()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 5);
        await Executions.CancelAsync(tenant, claim.ExecutionId, Ct);

        Assert.Equal(ExecutionStatus.Cancelled, (await FailAsync(claim, retryable: true)).Status);

        await AssertCancelledForGoodAsync(tenant, claim.ExecutionId);
        Assert.Equal(0L, await DeadLetterCountAsync(tenant));
    }

    [Fact]
    public async Task A_success_reported_after_a_cancel_request_still_ends_succeeded()
    {
        var (tenant, _, claim) = await RunningAsync();
        await Executions.CancelAsync(tenant, claim.ExecutionId, Ct);

        var outcome = await SucceedAsync(claim, """{"done": true}""");

        Assert.Equal(ExecutionStatus.Succeeded, outcome.Status);
        Assert.Equal(ExecutionStatus.Succeeded, await StatusAsync(claim.ExecutionId));
        Assert.Equal("succeeded", await AttemptOutcomeAsync(claim.ExecutionId, 1));
        var view = await Executions.GetAsync(tenant, claim.ExecutionId, Ct);
        Assert.Null(view!.Error);
        Assert.True(view.Result!.Value.GetProperty("done").GetBoolean());
    }

    [Fact]
    public async Task An_expired_lease_with_a_cancel_request_is_rescued_to_cancelled_not_requeued()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 3);
        await Executions.CancelAsync(tenant, claim.ExecutionId, Ct);
        await ExpireLeaseAsync(claim.ExecutionId);

        Assert.True(await Queue.RescueExpiredAsync(1000, Ct) >= 1);

        Assert.Equal("lease_expired", await AttemptOutcomeAsync(claim.ExecutionId, 1));
        await AssertCancelledForGoodAsync(tenant, claim.ExecutionId);
        Assert.Equal(0L, await DeadLetterCountAsync(tenant));
        Assert.Equal(LeaseCheck.LeaseLost, (await FailAsync(claim)).Check);
    }

    [Fact]
    public async Task A_release_with_a_cancel_request_ends_cancelled_not_requeued()
    {
        var (tenant, _, claim) = await RunningAsync();
        await Executions.CancelAsync(tenant, claim.ExecutionId, Ct);

        Assert.Equal(LeaseCheck.Accepted, await Queue.ReleaseAsync(claim.ExecutionId, claim.LeaseToken, "worker draining", Ct));

        Assert.Equal("released", await AttemptOutcomeAsync(claim.ExecutionId, 1));
        await AssertCancelledForGoodAsync(tenant, claim.ExecutionId);
        Assert.Equal(0L, await DeadLetterCountAsync(tenant));
    }

    [Fact]
    public async Task Cancelling_a_finished_execution_is_a_conflict_and_changes_nothing()
    {
        var (tenant, job) = await TenantWithJobAsync(maxAttempts: 1);
        var succeeded = await SubmitAsync(tenant, job);
        await SucceedAsync(await ClaimOneAsync(tenant));
        var failed = await SubmitAsync(tenant, job);
        await FailAsync(await ClaimOneAsync(tenant));
        var cancelled = await SubmitAsync(tenant, job);
        await Executions.CancelAsync(tenant, cancelled, Ct);
        var cancelledAt = (await Executions.GetAsync(tenant, cancelled, Ct))!.CancelRequestedAt;

        foreach (var (id, status) in new[] { (succeeded, ExecutionStatus.Succeeded), (failed, ExecutionStatus.Failed), (cancelled, ExecutionStatus.Cancelled) })
        {
            var e = await Assert.ThrowsAsync<StoreConflictException>(() => Executions.CancelAsync(tenant, id, Ct));
            Assert.Contains(status, e.Message);
            Assert.Equal(status, await StatusAsync(id));
        }
        Assert.False(await CancelRequestedAsync(succeeded));
        Assert.False(await CancelRequestedAsync(failed));
        Assert.Equal(cancelledAt, (await Executions.GetAsync(tenant, cancelled, Ct))!.CancelRequestedAt);
        Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
    }

    [Fact]
    public async Task Another_tenant_cannot_cancel_and_changes_nothing()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var stranger = await NewTenantAsync();
        var queued = await SubmitAsync(tenant, job);
        var scheduled = await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1));

        Assert.Null(await Executions.CancelAsync(stranger, queued, Ct));
        Assert.Null(await Executions.CancelAsync(stranger, scheduled, Ct));
        Assert.Null(await Executions.CancelAsync(tenant, Guid.NewGuid(), Ct));
        Assert.Null(await Executions.CancelJobAsync(stranger, job, Ct));
        Assert.Null(await Executions.CancelJobAsync(tenant, Guid.NewGuid(), Ct));

        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(queued));
        Assert.True(await InReadyQueueAsync(queued));
        Assert.False(await CancelRequestedAsync(queued));
        Assert.Equal(ExecutionStatus.Scheduled, await StatusAsync(scheduled));
        Assert.False(await CancelRequestedAsync(scheduled));
        Assert.Equal(queued, (await ClaimOneAsync(tenant)).ExecutionId);
    }

    [Fact]
    public async Task Cancelling_a_job_cancels_what_waits_and_marks_what_runs()
    {
        var (tenant, job) = await TenantWithJobAsync(maxAttempts: 3);
        var other = await NewJobAsync(tenant);

        var running = await SubmitAsync(tenant, job);
        var runningClaim = await ClaimOneAsync(tenant);
        Assert.Equal(running, runningClaim.ExecutionId);
        var retrying = await SubmitAsync(tenant, job);
        var retryingClaim = await ClaimOneAsync(tenant);
        Assert.Equal(ExecutionStatus.Retrying, (await FailAsync(retryingClaim)).Status);
        var succeeded = await SubmitAsync(tenant, job);
        await SucceedAsync(await ClaimOneAsync(tenant));
        var scheduled = await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1));
        var queued1 = await SubmitAsync(tenant, job);
        var queued2 = await SubmitAsync(tenant, job);
        var otherQueued = await SubmitAsync(tenant, other);

        var response = await Executions.CancelJobAsync(tenant, job, Ct);

        Assert.NotNull(response);
        Assert.Equal(4, response.Cancelled);
        Assert.Equal(1, response.Stopping);
        foreach (var id in new[] { queued1, queued2, scheduled, retrying }) await AssertCancelledAsync(tenant, id);
        Assert.Equal(ExecutionStatus.Running, await StatusAsync(running));
        Assert.True(await CancelRequestedAsync(running));
        Assert.Equal(ExecutionStatus.Succeeded, await StatusAsync(succeeded));
        Assert.False(await CancelRequestedAsync(succeeded));
        Assert.True(Assert.Single(await Queue.HeartbeatAsync([new AttemptLease(running, runningClaim.LeaseToken)], Lease, Ct)).CancelRequested);

        // The tenant's other job is untouched, and its run is the only claimable work left, even
        // once the cancelled scheduled run and retry are due.
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(otherQueued));
        Assert.False(await CancelRequestedAsync(otherQueued));
        await MakeDueAsync(scheduled);
        await MakeDueAsync(retrying);
        await Queue.PromoteDueAsync(1000, Ct);
        Assert.Equal(otherQueued, (await ClaimOneAsync(tenant)).ExecutionId);
        Assert.Empty(await ClaimAsync(tenant));

        // The running one ends CANCELLED when its worker reports the stop.
        Assert.Equal(ExecutionStatus.Cancelled, (await FailAsync(runningClaim, "stopped")).Status);
        Assert.Equal(0L, await DeadLetterCountAsync(tenant));

        // Nothing left to cancel.
        var again = await Executions.CancelJobAsync(tenant, job, Ct);
        Assert.Equal(0, again!.Cancelled);
        Assert.Equal(0, again.Stopping);
    }

    [Fact]
    public async Task A_job_cancel_larger_than_a_chunk_cancels_every_execution_once_in_several_transactions()
    {
        var (tenant, job) = await TenantWithJobAsync(maxAttempts: 3);
        var running = await SubmitAsync(tenant, job);
        Assert.Equal(running, (await ClaimOneAsync(tenant)).ExecutionId);
        var waiting = new List<Guid> { await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1)) };
        for (var i = 0; i < 8; i++) waiting.Add(await SubmitAsync(tenant, job));

        // Ten executions, chunks of three: four transactions, each a bounded statement.
        var response = await Executions.CancelJobAsync(tenant, job, Ct, chunk: 3);

        Assert.NotNull(response);
        Assert.Equal(9, response.Cancelled);
        Assert.Equal(1, response.Stopping);
        foreach (var id in waiting) await AssertCancelledAsync(tenant, id);
        Assert.True(await CancelRequestedAsync(running));
        Assert.Equal(10L, await Db.ScalarAsync<long>(
            "select count(*) from execution_events where execution_id = any($1) and kind = 'cancelled'", waiting.Append(running).ToArray()));
        Assert.Empty(await ClaimAsync(tenant));
        // An event's time is its transaction's start: four chunks, four transactions.
        Assert.Equal(4L, await Db.ScalarAsync<long>(
            "select count(distinct at) from execution_events where execution_id = any($1) and kind = 'cancelled'", waiting.Append(running).ToArray()));

        // Nothing is cancelled twice.
        var again = await Executions.CancelJobAsync(tenant, job, Ct, chunk: 3);
        Assert.Equal((0, 0), (again!.Cancelled, again.Stopping));
    }

    [Fact]
    public async Task A_cancel_racing_claims_never_cancels_what_was_claimed_and_never_deadlocks()
    {
        const int Count = 200;
        var (tenant, job) = await TenantWithJobAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < Count; i++) ids.Add(await SubmitAsync(tenant, job));

        var claimed = new ConcurrentDictionary<Guid, int>();
        var cancelResults = new ConcurrentDictionary<Guid, CancelOutcome>();
        var cancellersLeft = 4;

        // Four cancellers each cancel every fourth execution one by one: two in the order claims
        // take them, so cancels and claims keep meeting on the same rows, two from the other end,
        // so that a good share ends cancelled before any claim.
        var cancellers = InParallel(4, async k =>
        {
            try
            {
                var mine = Enumerable.Range(0, Count).Where(i => i % 4 == k);
                foreach (var i in k < 2 ? mine : mine.Reverse())
                    Assert.True(cancelResults.TryAdd(ids[i], (await Executions.CancelAsync(tenant, ids[i], Ct))!));
                return 0;
            }
            finally
            {
                Interlocked.Decrement(ref cancellersLeft);
            }
        });
        var claimers = InParallel(8, async i =>
        {
            var n = 0;
            while (Volatile.Read(ref cancellersLeft) > 0)
            {
                foreach (var c in await Queue.ClaimAsync(1 + i % 2, $"worker-{i}", [tenant], Lease, Ct))
                {
                    claimed.AddOrUpdate(c.ExecutionId, 1, (_, k) => k + 1);
                    n++;
                }
                await Task.Delay(10, Ct); // pacing only, so the cancellers get a fair share of the rows
            }
            return n;
        });
        await Task.WhenAll(cancellers, claimers);

        output.WriteLine($"{claimed.Count} of {Count} claimed before their cancel, {Count - claimed.Count} cancelled before a claim");
        Assert.Equal(Count, cancelResults.Count);
        Assert.All(claimed, c => Assert.Equal(1, c.Value)); // each claimed once
        var failures = new List<string>();
        foreach (var id in ids)
        {
            var answer = cancelResults[id];
            Assert.True(answer.CancelRequested);
            var status = await StatusAsync(id);
            var requested = await CancelRequestedAsync(id);
            var wasClaimed = claimed.ContainsKey(id);
            var ok = answer.Status switch
            {
                ExecutionStatus.Cancelled => !wasClaimed && status == ExecutionStatus.Cancelled && requested,
                ExecutionStatus.Running => wasClaimed && status == ExecutionStatus.Running && requested,
                _ => false,
            };
            if (!ok) failures.Add($"{id}: cancel answered {answer.Status}, claimed {wasClaimed}, now {status}, cancel requested {requested}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from ready_queue where tenant_id = $1", tenant));
        Assert.Empty(await ClaimAsync(tenant, limit: 100));
        Assert.Equal((long)claimed.Count, await Db.ScalarAsync<long>(
            "select count(*) from executions where tenant_id = $1 and status = 'RUNNING' and cancel_requested_at is not null", tenant));
        Assert.Equal((long)(Count - claimed.Count), await Db.ScalarAsync<long>(
            "select count(*) from executions where tenant_id = $1 and status = 'CANCELLED' and attempt = 0", tenant));
    }
}
