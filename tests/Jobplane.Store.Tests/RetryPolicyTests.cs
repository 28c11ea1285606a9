using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>A job's own retry policy: its backoff base and cap, and the exit codes that are never retried.</summary>
public sealed class RetryPolicyTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private async Task<Guid> JobWithPolicyAsync(Guid tenant, int maxAttempts = 3, double? backoffBase = null,
        double? backoffMax = null, int[]? permanent = null)
    {
        var spec = Spec(maxAttempts: maxAttempts) with
        {
            RetryBackoffBaseSeconds = backoffBase,
            RetryBackoffMaxSeconds = backoffMax,
            NonRetryableExitCodes = permanent ?? [],
        };
        return (await Jobs.UpsertAsync(tenant, spec, Ct)).JobId;
    }

    private async Task<ClaimedAttempt> RunAndClaimAsync(Guid tenant, Guid job)
    {
        var id = await SubmitAsync(tenant, job);
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(id, claim.ExecutionId);
        return claim;
    }

    private Task<CompletionOutcome> ExitAsync(ClaimedAttempt c, int exitCode, BackoffPolicy? backoff = null) =>
        Queue.CompleteAsync(c.ExecutionId, c.LeaseToken, new AttemptResult(exitCode, null, null, true), backoff ?? LongBackoff, Ct);

    [Fact]
    public async Task A_jobs_retry_policy_is_stored_read_back_and_replaced_by_an_update()
    {
        var tenant = await NewTenantAsync();
        var spec = Spec("policy") with { RetryBackoffBaseSeconds = 2.5, RetryBackoffMaxSeconds = 600, NonRetryableExitCodes = [2, 78] };

        var (id, created) = await Jobs.UpsertAsync(tenant, spec, Ct);

        Assert.True(created);
        var view = await Jobs.GetAsync(tenant, id, Ct);
        Assert.Equal(2.5, view!.RetryBackoffBaseSeconds);
        Assert.Equal(600, view.RetryBackoffMaxSeconds);
        Assert.Equal([2, 78], view.NonRetryableExitCodes);

        // Upserting the same name without a policy clears it back to the defaults.
        var (again, createdAgain) = await Jobs.UpsertAsync(tenant, Spec("policy"), Ct);
        Assert.Equal(id, again);
        Assert.False(createdAgain);
        var cleared = await Jobs.GetAsync(tenant, id, Ct);
        Assert.Null(cleared!.RetryBackoffBaseSeconds);
        Assert.Null(cleared.RetryBackoffMaxSeconds);
        Assert.Empty(cleared.NonRetryableExitCodes);
    }

    [Fact]
    public async Task A_permanent_exit_code_fails_into_the_dead_letter_queue_with_attempts_left()
    {
        var tenant = await NewTenantAsync();
        var job = await JobWithPolicyAsync(tenant, maxAttempts: 5, permanent: [3, 64]);
        var claim = await RunAndClaimAsync(tenant, job);

        var outcome = await ExitAsync(claim, 64);

        Assert.Equal(LeaseCheck.Accepted, outcome.Check);
        Assert.Equal(ExecutionStatus.Failed, outcome.Status);
        Assert.Equal(ExecutionStatus.Failed, await StatusAsync(claim.ExecutionId));
        Assert.False(await InReadyQueueAsync(claim.ExecutionId));
        var view = await Executions.GetAsync(tenant, claim.ExecutionId, Ct);
        Assert.Equal(1, view!.Attempt);
        Assert.Equal(5, view.MaxAttempts);
        Assert.Equal(64, view.ExitCode);
        Assert.Contains("permanent", view.Error);
        Assert.Contains("64", view.Error);
        Assert.NotNull(view.CompletedAt);
        Assert.Equal("failed", Assert.Single(view.Attempts!).Outcome);
        var entry = Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.Equal(claim.ExecutionId, entry.ExecutionId);
        Assert.Equal(1, entry.Attempts);
        Assert.Contains("permanent", entry.ErrorMessage);

        // Nothing comes back later.
        await MakeDueAsync(claim.ExecutionId);
        await Queue.PromoteDueAsync(1000, Ct);
        Assert.Empty(await ClaimAsync(tenant));
    }

    [Fact]
    public async Task Other_exit_codes_still_retry()
    {
        var tenant = await NewTenantAsync();
        var job = await JobWithPolicyAsync(tenant, maxAttempts: 3, permanent: [3, 64]);
        var claim = await RunAndClaimAsync(tenant, job);

        Assert.Equal(ExecutionStatus.Retrying, (await ExitAsync(claim, 1)).Status);
        await MakeDueAsync(claim.ExecutionId);
        await Queue.PromoteDueAsync(1000, Ct);
        var second = await ClaimOneAsync(tenant);
        Assert.Equal(claim.ExecutionId, second.ExecutionId);
        Assert.Equal(ExecutionStatus.Retrying, (await ExitAsync(second, 65)).Status);

        var view = await Executions.GetAsync(tenant, claim.ExecutionId, Ct);
        Assert.DoesNotContain("permanent", view!.Error);
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
    }

    [Fact]
    public async Task A_permanent_exit_code_on_a_later_attempt_also_stops_the_retries()
    {
        var tenant = await NewTenantAsync();
        var job = await JobWithPolicyAsync(tenant, maxAttempts: 5, permanent: [9]);
        var claim = await RunAndClaimAsync(tenant, job);
        Assert.Equal(ExecutionStatus.Retrying, (await ExitAsync(claim, 1)).Status);
        await MakeDueAsync(claim.ExecutionId);
        await Queue.PromoteDueAsync(1000, Ct);
        var second = await ClaimOneAsync(tenant);

        Assert.Equal(ExecutionStatus.Failed, (await ExitAsync(second, 9)).Status);

        Assert.Equal(2, Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct)).Attempts);
    }

    [Fact]
    public async Task A_job_without_permanent_codes_retries_every_failure()
    {
        var tenant = await NewTenantAsync();
        var job = await JobWithPolicyAsync(tenant, maxAttempts: 2);
        var claim = await RunAndClaimAsync(tenant, job);

        Assert.Equal(ExecutionStatus.Retrying, (await ExitAsync(claim, 64)).Status);
    }

    [Fact]
    public async Task The_backoff_policy_is_given_the_jobs_base_and_cap()
    {
        var tenant = await NewTenantAsync();
        var withPolicy = await JobWithPolicyAsync(tenant, backoffBase: 7.5, backoffMax: 120);
        var withDefaults = await JobWithPolicyAsync(tenant);
        var asked = new List<(int Attempt, double? Base, double? Max)>();
        TimeSpan Recording(int attempt, double? baseSeconds, double? maxSeconds)
        {
            asked.Add((attempt, baseSeconds, maxSeconds));
            return TimeSpan.FromMinutes(42);
        }

        var first = await RunAndClaimAsync(tenant, withPolicy);
        Assert.Equal(ExecutionStatus.Retrying, (await ExitAsync(first, 1, Recording)).Status);
        var second = await RunAndClaimAsync(tenant, withDefaults);
        Assert.Equal(ExecutionStatus.Retrying, (await ExitAsync(second, 1, Recording)).Status);

        Assert.Equal(new List<(int, double?, double?)> { (1, 7.5, 120.0), (1, null, null) }, asked);
        // The delay the policy chose is what the execution waits: scheduled_at = the attempt's end + 42 min.
        Assert.True(await Db.ScalarAsync<bool>("""
            select e.scheduled_at = a.ended_at + interval '42 minutes'
            from executions e join execution_attempts a on a.execution_id = e.id and a.attempt = 1
            where e.id = $1
            """, first.ExecutionId));
    }

    [Fact]
    public async Task The_backoff_policy_sees_the_charged_attempt_count_with_the_jobs_policy()
    {
        var tenant = await NewTenantAsync();
        var job = await JobWithPolicyAsync(tenant, maxAttempts: 4, backoffBase: 1, backoffMax: 30);
        var asked = new List<(int Attempt, double? Base, double? Max)>();
        TimeSpan Recording(int attempt, double? baseSeconds, double? maxSeconds)
        {
            asked.Add((attempt, baseSeconds, maxSeconds));
            return TimeSpan.FromHours(1);
        }

        var claim = await RunAndClaimAsync(tenant, job);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ExecutionStatus.Retrying, (await ExitAsync(claim, 1, Recording)).Status);
            await MakeDueAsync(claim.ExecutionId);
            await Queue.PromoteDueAsync(1000, Ct);
            claim = await ClaimOneAsync(tenant);
        }
        Assert.Equal(ExecutionStatus.Failed, (await ExitAsync(claim, 1, Recording)).Status);

        Assert.Equal(new List<(int, double?, double?)> { (1, 1.0, 30.0), (2, 1.0, 30.0), (3, 1.0, 30.0) }, asked);
    }
}
