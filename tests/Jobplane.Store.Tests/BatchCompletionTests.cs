using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>Many attempts' outcomes in one transaction, each fenced and answered on its own.</summary>
public sealed class BatchCompletionTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_batch_answers_each_report_in_order_and_writes_only_the_held_ones()
    {
        var tenant = await NewTenantAsync();
        var retried = await NewJobAsync(tenant, maxAttempts: 3);
        var once = await NewJobAsync(tenant, maxAttempts: 1);
        for (var i = 0; i < 3; i++) await SubmitAsync(tenant, retried);
        await SubmitAsync(tenant, once);
        var claims = await ClaimAsync(tenant, 10);
        Assert.Equal(4, claims.Count);
        var onceClaim = claims.Single(c => c.Payload.JobId == once);
        var others = claims.Where(c => c.Payload.JobId == retried).ToList();
        var lost = others[2];
        await ExpireLeaseAsync(lost.ExecutionId);
        await Queue.RescueExpiredAsync(100, Ct);
        var missing = Guid.CreateVersion7();

        var outcomes = await Queue.CompleteManyAsync(
        [
            new Completion(others[0].ExecutionId, others[0].LeaseToken, new AttemptResult(0, null, """{"n": 1}""", true)),
            new Completion(missing, Guid.NewGuid(), new AttemptResult(0, null, null, true)),
            new Completion(others[1].ExecutionId, others[1].LeaseToken, new AttemptResult(3, "exit code 3", null, true)),
            new Completion(lost.ExecutionId, lost.LeaseToken, new AttemptResult(0, null, null, true)),
            new Completion(onceClaim.ExecutionId, onceClaim.LeaseToken, new AttemptResult(1, "boom", null, true)),
        ], LongBackoff, Ct);

        Assert.Equal(
            [
                new CompletionOutcome(LeaseCheck.Accepted, ExecutionStatus.Succeeded),
                new CompletionOutcome(LeaseCheck.NotFound),
                new CompletionOutcome(LeaseCheck.Accepted, ExecutionStatus.Retrying),
                new CompletionOutcome(LeaseCheck.LeaseLost),
                new CompletionOutcome(LeaseCheck.Accepted, ExecutionStatus.Failed),
            ], outcomes);
        Assert.Equal(ExecutionStatus.Succeeded, await StatusAsync(others[0].ExecutionId));
        Assert.Equal(1, await Db.ScalarAsync<int>("select (result->>'n')::int from executions where id = $1", others[0].ExecutionId));
        Assert.Equal(ExecutionStatus.Retrying, await StatusAsync(others[1].ExecutionId));
        Assert.True(await Db.ScalarAsync<bool>("select scheduled_at > now() + interval '30 minutes' and completed_at is null from executions where id = $1", others[1].ExecutionId));
        // The rescued execution is untouched by its old lease: queued again for another attempt.
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(lost.ExecutionId));
        Assert.Equal(ExecutionStatus.Failed, await StatusAsync(onceClaim.ExecutionId));
        var dead = Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.Equal(onceClaim.ExecutionId, dead.ExecutionId);
        Assert.Equal("succeeded", await AttemptOutcomeAsync(others[0].ExecutionId));
        Assert.Equal("failed", await AttemptOutcomeAsync(others[1].ExecutionId));
        Assert.Equal("failed", await AttemptOutcomeAsync(onceClaim.ExecutionId));
        // The rescued execution's first attempt keeps the rescue's outcome: the stale report changed nothing.
        Assert.Equal("lease_expired", await AttemptOutcomeAsync(lost.ExecutionId));
    }

    private Task<string> AttemptOutcomeAsync(Guid executionId) =>
        Db.ScalarAsync<string>("select outcome from execution_attempts where execution_id = $1 and attempt = 1", executionId);

    [Fact]
    public async Task A_result_PostgreSQL_cannot_store_is_refused_alone_and_the_rest_of_the_batch_is_written()
    {
        var (tenant, job) = await TenantWithJobAsync();
        await SubmitAsync(tenant, job);
        await SubmitAsync(tenant, job);
        var claims = await ClaimAsync(tenant, 2);

        var outcomes = await Queue.CompleteManyAsync(
        [
            new Completion(claims[0].ExecutionId, claims[0].LeaseToken, new AttemptResult(0, null, """{"s": "a\u0000b"}""", true)),
            new Completion(claims[1].ExecutionId, claims[1].LeaseToken, new AttemptResult(0, null, """{"ok": true}""", true)),
        ], LongBackoff, Ct);

        Assert.Equal(LeaseCheck.Refused, outcomes[0].Check);
        Assert.Contains("JSONB", outcomes[0].Refused, StringComparison.Ordinal);
        Assert.Equal(new CompletionOutcome(LeaseCheck.Accepted, ExecutionStatus.Succeeded), outcomes[1]);
        // Refused: nothing written, the lease still holds, and the worker can report again without the result.
        Assert.Equal(ExecutionStatus.Running, await StatusAsync(claims[0].ExecutionId));
        Assert.Equal(ExecutionStatus.Succeeded, await StatusAsync(claims[1].ExecutionId));
        var again = await Queue.CompleteAsync(claims[0].ExecutionId, claims[0].LeaseToken, new AttemptResult(0, null, null, true), LongBackoff, Ct);
        Assert.Equal(ExecutionStatus.Succeeded, again.Status);
    }

    [Fact]
    public async Task A_batch_restricted_to_tenants_treats_another_tenants_execution_as_missing()
    {
        var (mine, myJob) = await TenantWithJobAsync();
        var (theirs, theirJob) = await TenantWithJobAsync();
        await SubmitAsync(mine, myJob);
        await SubmitAsync(theirs, theirJob);
        var my = await ClaimOneAsync(mine);
        var their = await ClaimOneAsync(theirs);

        var outcomes = await Queue.CompleteManyAsync(
        [
            new Completion(my.ExecutionId, my.LeaseToken, new AttemptResult(0, null, null, true)),
            new Completion(their.ExecutionId, their.LeaseToken, new AttemptResult(0, null, null, true)),
        ], LongBackoff, Ct, tenantIds: [mine]);

        Assert.Equal(LeaseCheck.Accepted, outcomes[0].Check);
        Assert.Equal(LeaseCheck.NotFound, outcomes[1].Check);
        Assert.Equal(ExecutionStatus.Running, await StatusAsync(their.ExecutionId));
    }

    [Fact]
    public async Task A_report_named_twice_in_one_batch_is_heard_once()
    {
        var (tenant, _, claim) = await RunningAsync();

        var outcomes = await Queue.CompleteManyAsync(
        [
            new Completion(claim.ExecutionId, claim.LeaseToken, new AttemptResult(0, null, null, true)),
            new Completion(claim.ExecutionId, claim.LeaseToken, new AttemptResult(1, "second", null, true)),
        ], LongBackoff, Ct);

        Assert.Equal(new CompletionOutcome(LeaseCheck.Accepted, ExecutionStatus.Succeeded), outcomes[0]);
        Assert.Equal(LeaseCheck.LeaseLost, outcomes[1].Check);
        Assert.Equal(ExecutionStatus.Succeeded, await StatusAsync(claim.ExecutionId));
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
    }
}
