using System.Text.Json;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class CompletionTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Success_stores_the_result_and_completes_the_execution()
    {
        var (tenant, _, claim) = await RunningAsync();

        var outcome = await SucceedAsync(claim, """{"rows": 3, "ok": true}""");

        Assert.Equal(LeaseCheck.Accepted, outcome.Check);
        Assert.Equal(ExecutionStatus.Succeeded, outcome.Status);
        var view = await Executions.GetAsync(tenant, claim.ExecutionId, Ct);
        Assert.NotNull(view);
        Assert.Equal(ExecutionStatus.Succeeded, view.Status);
        Assert.Equal(0, view.ExitCode);
        Assert.Null(view.Error);
        Assert.NotNull(view.CompletedAt);
        Assert.Equal(3, view.Result!.Value.GetProperty("rows").GetInt32());
        Assert.True(view.Result.Value.GetProperty("ok").GetBoolean());
        var attempt = Assert.Single(view.Attempts!);
        Assert.Equal("succeeded", attempt.Outcome);
        Assert.NotNull(attempt.EndedAt);
        Assert.False(await InReadyQueueAsync(claim.ExecutionId));
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
    }

    [Fact]
    public async Task A_failure_with_attempts_left_retries_after_the_backoff()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 3);
        var backoffAsked = new List<int>();
        TimeSpan Backoff(int attempt, double? baseSeconds, double? maxSeconds)
        {
            backoffAsked.Add(attempt);
            return TimeSpan.FromHours(1);
        }

        var outcome = await Queue.CompleteAsync(claim.ExecutionId, claim.LeaseToken,
            new AttemptResult(2, "exit code 2: disk full", null, true), Backoff, Ct);

        Assert.Equal(LeaseCheck.Accepted, outcome.Check);
        Assert.Equal(ExecutionStatus.Retrying, outcome.Status);
        Assert.Equal([1], backoffAsked);
        var id = claim.ExecutionId;
        Assert.Equal(ExecutionStatus.Retrying, await StatusAsync(id));
        Assert.True(await Db.ScalarAsync<bool>("select scheduled_at > now() + interval '30 minutes' from executions where id = $1", id));
        Assert.True(await Db.ScalarAsync<bool>("select completed_at is null from executions where id = $1", id));
        Assert.Equal("failed", await Db.ScalarAsync<string>(
            "select outcome from execution_attempts where execution_id = $1 and attempt = 1", id));

        // Not claimable during the backoff, and not promoted before it is due.
        Assert.Empty(await ClaimAsync(tenant));
        await Queue.PromoteDueAsync(100, Ct);
        Assert.Equal(ExecutionStatus.Retrying, await StatusAsync(id));
        Assert.Empty(await ClaimAsync(tenant));

        // Once due: promoted to PENDING, then claimed as attempt 2.
        await MakeDueAsync(id);
        Assert.True(await Queue.PromoteDueAsync(100, Ct) >= 1);
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(id));
        var second = await ClaimOneAsync(tenant);
        Assert.Equal(id, second.ExecutionId);
        Assert.Equal(2, second.Attempt);
        Assert.NotEqual(claim.LeaseToken, second.LeaseToken);

        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(second)).Status);
        var view = await Executions.GetAsync(tenant, id, Ct);
        Assert.Equal(["failed", "succeeded"], view!.Attempts!.Select(a => a.Outcome));
        Assert.Equal("exit code 2: disk full", view.Attempts![0].Error);
        Assert.Equal(2, view.Attempts[0].ExitCode);
    }

    [Fact]
    public async Task The_last_failed_attempt_fails_the_execution_into_the_dead_letter_queue()
    {
        var (tenant, job, claim) = await RunningAsync(maxAttempts: 2);
        var id = claim.ExecutionId;
        Assert.Equal(ExecutionStatus.Retrying, (await FailAsync(claim, "first failure")).Status);
        await MakeDueAsync(id);
        await Queue.PromoteDueAsync(100, Ct);
        var second = await ClaimOneAsync(tenant);
        Assert.Equal(2, second.Attempt);

        var outcome = await FailAsync(second, "second failure");

        Assert.Equal(LeaseCheck.Accepted, outcome.Check);
        Assert.Equal(ExecutionStatus.Failed, outcome.Status);
        var view = await Executions.GetAsync(tenant, id, Ct);
        Assert.Equal(ExecutionStatus.Failed, view!.Status);
        Assert.Equal("second failure", view.Error);
        Assert.NotNull(view.CompletedAt);
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from dead_letters where execution_id = $1", id));

        var entry = Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.Equal(id, entry.ExecutionId);
        Assert.Equal(job, entry.JobId);
        Assert.Equal(view.JobName, entry.JobName);
        Assert.StartsWith("job-", entry.JobName);
        Assert.Equal(2, entry.Attempts);
        Assert.Equal("second failure", entry.ErrorMessage);

        // Terminal: maintenance does not bring it back.
        await Queue.PromoteDueAsync(100, Ct);
        await Queue.RescueExpiredAsync(100, Ct);
        Assert.Empty(await ClaimAsync(tenant));
        Assert.Equal(ExecutionStatus.Failed, await StatusAsync(id));
    }

    [Fact]
    public async Task A_non_retryable_failure_fails_at_once_even_with_attempts_left()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 5);

        var outcome = await FailAsync(claim, "result.json is not valid JSON", retryable: false);

        Assert.Equal(ExecutionStatus.Failed, outcome.Status);
        Assert.Equal(ExecutionStatus.Failed, await StatusAsync(claim.ExecutionId));
        var entry = Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.Equal(claim.ExecutionId, entry.ExecutionId);
        Assert.Equal(1, entry.Attempts);
        Assert.Equal("result.json is not valid JSON", entry.ErrorMessage);
    }

    [Fact]
    public async Task A_non_zero_exit_without_a_message_is_a_failure_naming_the_exit_code()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 1);

        var outcome = await Queue.CompleteAsync(claim.ExecutionId, claim.LeaseToken,
            new AttemptResult(137, null, null, true), LongBackoff, Ct);

        Assert.Equal(ExecutionStatus.Failed, outcome.Status);
        var view = await Executions.GetAsync(tenant, claim.ExecutionId, Ct);
        Assert.Equal(137, view!.ExitCode);
        Assert.Contains("137", view.Error);
    }

    [Fact]
    public async Task A_stale_token_from_a_lost_attempt_is_refused_and_changes_nothing()
    {
        var (tenant, _, first) = await RunningAsync(maxAttempts: 3);
        var id = first.ExecutionId;
        // The first worker went quiet: its lease expired and the execution was re-claimed.
        await ExpireLeaseAsync(id);
        await Queue.RescueExpiredAsync(100, Ct);
        var second = await ClaimOneAsync(tenant, worker: "worker-2");
        Assert.Equal(2, second.Attempt);

        // The first worker comes back and reports, too late.
        var stale = await Queue.CompleteAsync(id, first.LeaseToken, new AttemptResult(0, null, """{"stale":true}""", true), LongBackoff, Ct);
        var staleFailure = await FailAsync(first, "stale failure", retryable: false);

        Assert.Equal(LeaseCheck.LeaseLost, stale.Check);
        Assert.Null(stale.Status);
        Assert.Equal(LeaseCheck.LeaseLost, staleFailure.Check);
        var view = await Executions.GetAsync(tenant, id, Ct);
        Assert.Equal(ExecutionStatus.Running, view!.Status);
        Assert.Equal(2, view.Attempt);
        Assert.Null(view.Result);
        Assert.Null(view.Attempts![1].EndedAt);
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));

        // The current holder is still heard.
        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(second, """{"fresh":true}""")).Status);
        view = await Executions.GetAsync(tenant, id, Ct);
        Assert.True(view!.Result!.Value.GetProperty("fresh").GetBoolean());
    }

    [Fact]
    public async Task An_unknown_execution_is_not_found()
    {
        var outcome = await Queue.CompleteAsync(Guid.NewGuid(), Guid.NewGuid(), new AttemptResult(0, null, null, true), LongBackoff, Ct);

        Assert.Equal(LeaseCheck.NotFound, outcome.Check);
        Assert.Null(outcome.Status);
    }

    [Fact]
    public async Task Completing_twice_with_the_same_token_is_refused()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 3);
        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(claim, """{"n":1}""")).Status);

        var again = await SucceedAsync(claim, """{"n":2}""");
        var failAfter = await FailAsync(claim, "late failure");

        Assert.Equal(LeaseCheck.LeaseLost, again.Check);
        Assert.Equal(LeaseCheck.LeaseLost, failAfter.Check);
        var view = await Executions.GetAsync(tenant, claim.ExecutionId, Ct);
        Assert.Equal(ExecutionStatus.Succeeded, view!.Status);
        Assert.Equal(1, view.Result!.Value.GetProperty("n").GetInt32());
        Assert.Null(view.Error);
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.Empty(await ClaimAsync(tenant));
    }

    [Fact]
    public async Task A_result_is_kept_as_json()
    {
        var (tenant, _, claim) = await RunningAsync();

        await SucceedAsync(claim, """{"nested":{"list":[1,2,3]},"text":"héllo"}""");

        var view = await Executions.GetAsync(tenant, claim.ExecutionId, Ct);
        Assert.Equal(JsonValueKind.Object, view!.Result!.Value.ValueKind);
        Assert.Equal(3, view.Result.Value.GetProperty("nested").GetProperty("list").GetArrayLength());
        Assert.Equal("héllo", view.Result.Value.GetProperty("text").GetString());
        Assert.Equal("object", await Db.ScalarAsync<string>("select jsonb_typeof(result) from executions where id = $1", claim.ExecutionId));
    }
}
