using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class DeadLetterTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Retrying_by_dead_letter_id_runs_the_job_again()
    {
        var (tenant, job, failed) = await DeadLetteredAsync();
        var entry = Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));

        var newId = await Executions.RetryDeadLetterAsync(tenant, entry.Id, Ct);

        Assert.NotNull(newId);
        Assert.NotEqual(failed, newId);
        var view = await Executions.GetAsync(tenant, newId.Value, Ct);
        Assert.Equal(ExecutionStatus.Pending, view!.Status);
        Assert.Equal(job, view.JobId);
        Assert.Equal(0, view.Attempt);
        Assert.True(await InReadyQueueAsync(newId.Value));
        Assert.Equal(newId, await Db.ScalarAsync<Guid>("select retried_execution_id from dead_letters where id = $1", entry.Id));
        // The failed execution keeps its history; the DLQ no longer lists the retried entry.
        Assert.Equal(ExecutionStatus.Failed, await StatusAsync(failed));
        Assert.Empty(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(newId, claim.ExecutionId);
        Assert.Equal(1, claim.Attempt);
    }

    [Fact]
    public async Task Retrying_by_execution_id_runs_the_job_again()
    {
        var (tenant, job, failed) = await DeadLetteredAsync();

        var newId = await Executions.RetryDeadLetterAsync(tenant, failed, Ct);

        Assert.NotNull(newId);
        var view = await Executions.GetAsync(tenant, newId.Value, Ct);
        Assert.Equal(ExecutionStatus.Pending, view!.Status);
        Assert.Equal(job, view.JobId);
    }

    [Fact]
    public async Task Retrying_twice_is_a_conflict()
    {
        var (tenant, job, failed) = await DeadLetteredAsync();
        var entry = Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));
        var newId = await Executions.RetryDeadLetterAsync(tenant, entry.Id, Ct);

        var byEntry = await Assert.ThrowsAsync<StoreConflictException>(() => Executions.RetryDeadLetterAsync(tenant, entry.Id, Ct));
        await Assert.ThrowsAsync<StoreConflictException>(() => Executions.RetryDeadLetterAsync(tenant, failed, Ct));

        Assert.Contains(newId.ToString()!, byEntry.Message);
        Assert.Equal(2L, await Db.ScalarAsync<long>("select count(*) from executions where job_id = $1", job));
    }

    [Fact]
    public async Task Another_tenant_cannot_retry_or_see_a_dead_letter()
    {
        var (tenant, job, failed) = await DeadLetteredAsync();
        var stranger = await NewTenantAsync();
        var entry = Assert.Single(await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct));

        Assert.Null(await Executions.RetryDeadLetterAsync(stranger, entry.Id, Ct));
        Assert.Null(await Executions.RetryDeadLetterAsync(stranger, failed, Ct));
        Assert.Null(await Executions.RetryDeadLetterAsync(tenant, Guid.NewGuid(), Ct));

        Assert.Empty(await Executions.ListDeadLettersAsync(stranger, 10, 0, Ct));
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from executions where job_id = $1", job));
        Assert.True(await Db.ScalarAsync<bool>("select retried_execution_id is null from dead_letters where id = $1", entry.Id));
    }

    [Fact]
    public async Task A_retry_keeps_the_failed_executions_priority_and_timeout()
    {
        var tenant = await NewTenantAsync();
        var job = await NewJobAsync(tenant, priority: 10, maxAttempts: 1);
        var response = await Executions.RunAsync(tenant, job, new RunOptions(null, 5, Priority.Critical), null, Ct);
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(response!.ExecutionId, claim.ExecutionId);
        await FailAsync(claim);

        var newId = await Executions.RetryDeadLetterAsync(tenant, claim.ExecutionId, Ct);

        var retried = await ClaimOneAsync(tenant);
        Assert.Equal(newId, retried.ExecutionId);
        Assert.Equal(Priority.Critical, retried.Payload.Priority);
        Assert.Equal(5, retried.Payload.TimeoutSeconds);
    }

    [Fact]
    public async Task The_dead_letter_queue_lists_newest_first_per_tenant()
    {
        var tenant = await NewTenantAsync();
        var (_, _, first) = await DeadLetteredAsync(tenant, "first");
        var (_, _, second) = await DeadLetteredAsync(tenant, "second");
        await DeadLetteredAsync();

        var list = await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct);

        Assert.Equal([second, first], list.Select(d => d.ExecutionId));
        Assert.Equal(["second", "first"], list.Select(d => d.ErrorMessage));
        Assert.Equal([first], (await Executions.ListDeadLettersAsync(tenant, 1, 1, Ct)).Select(d => d.ExecutionId));
    }
}
