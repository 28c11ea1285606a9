using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class ReleaseTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_released_execution_is_ready_again_at_once()
    {
        var (tenant, _, first) = await RunningAsync();
        var id = first.ExecutionId;

        Assert.Equal(LeaseCheck.Accepted, await Queue.ReleaseAsync(id, first.LeaseToken, "worker shutting down", Ct));

        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(id));
        Assert.True(await InReadyQueueAsync(id));
        var view = await Executions.GetAsync(tenant, id, Ct);
        var attempt = Assert.Single(view!.Attempts!);
        Assert.Equal("released", attempt.Outcome);
        Assert.Equal("worker shutting down", attempt.Error);

        var second = await ClaimOneAsync(tenant, worker: "worker-2");
        Assert.Equal(id, second.ExecutionId);
        Assert.Equal(2, second.Attempt);
        Assert.Equal(LeaseCheck.LeaseLost, (await SucceedAsync(first)).Check);
        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(second)).Status);
    }

    [Fact]
    public async Task A_released_attempt_is_not_charged()
    {
        // One attempt allowed: the released attempt must not use it up.
        var (tenant, _, first) = await RunningAsync(maxAttempts: 1);
        var id = first.ExecutionId;
        Assert.Equal(LeaseCheck.Accepted, await Queue.ReleaseAsync(id, first.LeaseToken, "draining", Ct));

        var second = await ClaimOneAsync(tenant);
        Assert.Equal(2, second.Attempt);
        Assert.Equal(1, second.MaxAttempts);
        var outcome = await FailAsync(second, "real failure");

        // The one charged attempt failed: the execution fails (not retried, not refused).
        Assert.Equal(LeaseCheck.Accepted, outcome.Check);
        Assert.Equal(ExecutionStatus.Failed, outcome.Status);
        var view = await Executions.GetAsync(tenant, id, Ct);
        Assert.Equal(ExecutionStatus.Failed, view!.Status);
        Assert.Equal(2, view.Attempt);
        Assert.Equal(["released", "failed"], view.Attempts!.Select(a => a.Outcome));
        Assert.Equal("real failure", Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct)).ErrorMessage);
    }

    [Fact]
    public async Task A_released_attempt_does_not_count_towards_retries()
    {
        // Two attempts allowed; one released, then one failure: a retry is still due.
        var (tenant, _, first) = await RunningAsync(maxAttempts: 2);
        Assert.Equal(LeaseCheck.Accepted, await Queue.ReleaseAsync(first.ExecutionId, first.LeaseToken, "draining", Ct));
        var second = await ClaimOneAsync(tenant);

        Assert.Equal(ExecutionStatus.Retrying, (await FailAsync(second)).Status);
    }

    [Fact]
    public async Task A_lease_lost_after_a_release_is_charged_normally()
    {
        var (tenant, _, first) = await RunningAsync(maxAttempts: 1);
        Assert.Equal(LeaseCheck.Accepted, await Queue.ReleaseAsync(first.ExecutionId, first.LeaseToken, "draining", Ct));
        var second = await ClaimOneAsync(tenant);
        await ExpireLeaseAsync(second.ExecutionId);

        await Queue.RescueExpiredAsync(100, Ct);

        Assert.Equal(ExecutionStatus.Failed, await StatusAsync(second.ExecutionId));
        Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
    }

    [Fact]
    public async Task Releasing_with_a_wrong_token_changes_nothing()
    {
        var (_, _, claim) = await RunningAsync();

        Assert.Equal(LeaseCheck.LeaseLost, await Queue.ReleaseAsync(claim.ExecutionId, Guid.NewGuid(), "draining", Ct));
        Assert.Equal(LeaseCheck.NotFound, await Queue.ReleaseAsync(Guid.NewGuid(), claim.LeaseToken, "draining", Ct));

        Assert.Equal(ExecutionStatus.Running, await StatusAsync(claim.ExecutionId));
        Assert.False(await InReadyQueueAsync(claim.ExecutionId));
        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(claim)).Status);
    }

    [Fact]
    public async Task A_finished_execution_cannot_be_released()
    {
        var (_, _, claim) = await RunningAsync();
        await SucceedAsync(claim);

        Assert.Equal(LeaseCheck.LeaseLost, await Queue.ReleaseAsync(claim.ExecutionId, claim.LeaseToken, "draining", Ct));
        Assert.Equal(ExecutionStatus.Succeeded, await StatusAsync(claim.ExecutionId));
        Assert.False(await InReadyQueueAsync(claim.ExecutionId));
    }
}
