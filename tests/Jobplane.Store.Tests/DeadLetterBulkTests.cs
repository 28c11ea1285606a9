using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>Retrying or purging a tenant's whole dead-letter queue (or one job's part of it) at once.</summary>
public sealed class DeadLetterBulkTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private Task<long> ExecutionCountAsync(Guid tenant) =>
        Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", tenant);

    private async Task<Guid> DeadLetterOfJobAsync(Guid tenant, Guid job, string error = "boom")
    {
        var id = await SubmitAsync(tenant, job);
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(id, claim.ExecutionId);
        Assert.Equal(ExecutionStatus.Failed, (await FailAsync(claim, error)).Status);
        return id;
    }

    [Fact]
    public async Task Retrying_all_reruns_every_dead_letter_as_a_claimable_execution()
    {
        var tenant = await NewTenantAsync();
        var jobA = await NewJobAsync(tenant, maxAttempts: 1);
        var jobB = await NewJobAsync(tenant, maxAttempts: 1);
        var failed = new[]
        {
            await DeadLetterOfJobAsync(tenant, jobA), await DeadLetterOfJobAsync(tenant, jobA), await DeadLetterOfJobAsync(tenant, jobB),
        };

        var result = await Executions.RetryDeadLettersAsync(tenant, null, 1000, Ct);

        Assert.Equal(3, result.Retried);
        Assert.Equal(3, result.NewExecutionIds.Count);
        Assert.Equal(3, result.NewExecutionIds.Distinct().Count());
        Assert.Empty(result.NewExecutionIds.Intersect(failed));
        foreach (var id in result.NewExecutionIds)
        {
            var view = await Executions.GetAsync(tenant, id, Ct);
            Assert.Equal(ExecutionStatus.Pending, view!.Status);
            Assert.Equal(0, view.Attempt);
            Assert.True(await InReadyQueueAsync(id));
        }
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        // Each dead letter is linked to the execution that re-ran it.
        Assert.Equal(result.NewExecutionIds.Order(), (await Db.ScalarAsync<Guid[]>(
            "select array_agg(retried_execution_id order by retried_execution_id) from dead_letters where tenant_id = $1", tenant)).Order());
        // The failed executions keep their history.
        foreach (var id in failed) Assert.Equal(ExecutionStatus.Failed, await StatusAsync(id));
        var claimed = await ClaimAsync(tenant, limit: 10);
        Assert.Equal(result.NewExecutionIds.Order(), claimed.Select(c => c.ExecutionId).Order());

        var again = await Executions.RetryDeadLettersAsync(tenant, null, 1000, Ct);
        Assert.Equal(0, again.Retried);
        Assert.Empty(again.NewExecutionIds);
        Assert.Equal(6L, await ExecutionCountAsync(tenant));
    }

    [Fact]
    public async Task Retrying_one_job_reruns_only_that_jobs_dead_letters()
    {
        var tenant = await NewTenantAsync();
        var jobA = await NewJobAsync(tenant, maxAttempts: 1);
        var jobB = await NewJobAsync(tenant, maxAttempts: 1);
        await DeadLetterOfJobAsync(tenant, jobA);
        var failedB = await DeadLetterOfJobAsync(tenant, jobB);

        var result = await Executions.RetryDeadLettersAsync(tenant, jobA, 1000, Ct);

        Assert.Equal(1, result.Retried);
        Assert.Equal(jobA, (await Executions.GetAsync(tenant, Assert.Single(result.NewExecutionIds), Ct))!.JobId);
        Assert.Equal(failedB, Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct)).ExecutionId);
        Assert.Equal(0, (await Executions.RetryDeadLettersAsync(tenant, jobA, 1000, Ct)).Retried);
    }

    [Fact]
    public async Task Retrying_all_keeps_each_failed_executions_priority_and_timeout()
    {
        var tenant = await NewTenantAsync();
        var job = await NewJobAsync(tenant, priority: 10, maxAttempts: 1);
        var run = await Executions.RunAsync(tenant, job, new RunOptions(null, 5, Priority.Critical), null, Ct);
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(run!.ExecutionId, claim.ExecutionId);
        await FailAsync(claim);

        var result = await Executions.RetryDeadLettersAsync(tenant, null, 1000, Ct);

        var retried = await ClaimOneAsync(tenant);
        Assert.Equal(Assert.Single(result.NewExecutionIds), retried.ExecutionId);
        Assert.Equal(Priority.Critical, retried.Payload.Priority);
        Assert.Equal(5, retried.Payload.TimeoutSeconds);
        Assert.Equal(1, retried.MaxAttempts);
    }

    [Fact]
    public async Task Retrying_all_honours_its_batch_limit()
    {
        var tenant = await NewTenantAsync();
        var job = await NewJobAsync(tenant, maxAttempts: 1);
        for (var i = 0; i < 3; i++) await DeadLetterOfJobAsync(tenant, job);

        Assert.Equal(2, (await Executions.RetryDeadLettersAsync(tenant, null, 2, Ct)).Retried);
        Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.Equal(1, (await Executions.RetryDeadLettersAsync(tenant, null, 2, Ct)).Retried);
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
    }

    [Fact]
    public async Task Simultaneous_bulk_retries_rerun_each_dead_letter_once()
    {
        var tenant = await NewTenantAsync();
        var job = await NewJobAsync(tenant, maxAttempts: 1);
        for (var i = 0; i < 12; i++) await DeadLetterOfJobAsync(tenant, job);

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
            Task.Run(() => Executions.RetryDeadLettersAsync(tenant, null, 1000, Ct))));

        Assert.Equal(12, results.Sum(r => r.Retried));
        Assert.Equal(12, results.SelectMany(r => r.NewExecutionIds).Distinct().Count());
        Assert.Equal(24L, await ExecutionCountAsync(tenant));
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 100, 0, Ct));
    }

    [Fact]
    public async Task Purging_removes_the_entries_but_keeps_the_executions_history()
    {
        var tenant = await NewTenantAsync();
        var jobA = await NewJobAsync(tenant, maxAttempts: 1);
        var jobB = await NewJobAsync(tenant, maxAttempts: 1);
        var failedA = await DeadLetterOfJobAsync(tenant, jobA, "a failed");
        var failedB = await DeadLetterOfJobAsync(tenant, jobB, "b failed");
        var retriedOne = await DeadLetterOfJobAsync(tenant, jobA);
        await Executions.RetryDeadLetterAsync(tenant, retriedOne, Ct);

        Assert.Equal(1, await Executions.PurgeDeadLettersAsync(tenant, jobB, Ct));
        Assert.Equal(failedA, Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct)).ExecutionId);
        Assert.Equal(1, await Executions.PurgeDeadLettersAsync(tenant, null, Ct));
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.Equal(0, await Executions.PurgeDeadLettersAsync(tenant, null, Ct));
        Assert.Equal(0, (await Executions.RetryDeadLettersAsync(tenant, null, 1000, Ct)).Retried);

        foreach (var (id, error) in new[] { (failedA, "a failed"), (failedB, "b failed") })
        {
            var view = await Executions.GetAsync(tenant, id, Ct);
            Assert.Equal(ExecutionStatus.Failed, view!.Status);
            Assert.Equal(error, view.Error);
            Assert.Equal("failed", Assert.Single(view.Attempts!).Outcome);
        }
        // A dead letter already retried keeps its link to the re-run.
        Assert.Equal(1L, await Db.ScalarAsync<long>(
            "select count(*) from dead_letters where tenant_id = $1 and retried_execution_id is not null", tenant));
    }

    [Fact]
    public async Task Bulk_retry_and_purge_touch_only_the_callers_dead_letters()
    {
        var tenant = await NewTenantAsync();
        var stranger = await NewTenantAsync();
        var strangersJob = await NewJobAsync(stranger, maxAttempts: 1);
        var (_, _, mine) = await DeadLetteredAsync(tenant);
        var theirs = new[] { await DeadLetterOfJobAsync(stranger, strangersJob), await DeadLetterOfJobAsync(stranger, strangersJob) };
        var strangerExecutions = await ExecutionCountAsync(stranger);

        // The stranger's job id is not the caller's: nothing of theirs (and nothing of the caller's) is touched.
        Assert.Equal(0, (await Executions.RetryDeadLettersAsync(tenant, strangersJob, 1000, Ct)).Retried);
        Assert.Equal(0, await Executions.PurgeDeadLettersAsync(tenant, strangersJob, Ct));
        Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));

        var retried = await Executions.RetryDeadLettersAsync(tenant, null, 1000, Ct);
        Assert.Equal(1, retried.Retried);
        var rerun = await ClaimOneAsync(tenant);
        Assert.Equal(retried.NewExecutionIds[0], rerun.ExecutionId);
        await SucceedAsync(rerun);
        var (_, _, mineAgain) = await DeadLetteredAsync(tenant);
        Assert.Equal(1, await Executions.PurgeDeadLettersAsync(tenant, null, Ct));

        Assert.Equal(theirs.Order(), (await Executions.ListDeadLettersAsync(stranger, 10, 0, Ct)).Select(d => d.ExecutionId).Order());
        Assert.Equal(strangerExecutions, await ExecutionCountAsync(stranger));
        Assert.Equal(0L, await Db.ScalarAsync<long>(
            "select count(*) from dead_letters where tenant_id = $1 and retried_execution_id is not null", stranger));
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        Assert.NotEqual(mine, mineAgain);
    }
}
