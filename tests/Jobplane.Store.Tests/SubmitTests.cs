using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class SubmitTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_run_without_a_schedule_is_pending_and_ready()
    {
        var (tenant, job) = await TenantWithJobAsync();

        var response = await Executions.RunAsync(tenant, job, new RunOptions(null, null, null), null, Ct);

        Assert.NotNull(response);
        Assert.Equal(ExecutionStatus.Pending, response.Status);
        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(response.ExecutionId));
        Assert.True(await InReadyQueueAsync(response.ExecutionId));
        var view = await Executions.GetAsync(tenant, response.ExecutionId, Ct);
        Assert.NotNull(view);
        Assert.Equal(job, view.JobId);
        Assert.Equal(0, view.Attempt);
        Assert.Equal(3, view.MaxAttempts);
        Assert.Empty(view.Attempts!);
    }

    [Fact]
    public async Task A_run_scheduled_in_the_future_waits_until_it_is_due()
    {
        var (tenant, job) = await TenantWithJobAsync();

        var response = await Executions.RunAsync(tenant, job,
            new RunOptions(DateTimeOffset.UtcNow.AddSeconds(2), null, null), null, Ct);

        Assert.NotNull(response);
        Assert.Equal(ExecutionStatus.Scheduled, response.Status);
        Assert.False(await InReadyQueueAsync(response.ExecutionId));
        Assert.Empty(await ClaimAsync(tenant));
        await Queue.PromoteDueAsync(100, Ct);
        Assert.Empty(await ClaimAsync(tenant));
        Assert.Equal(ExecutionStatus.Scheduled, await StatusAsync(response.ExecutionId));

        // Once due, maintenance promotes it and it can be claimed. Bounded poll; no timing asserted.
        ClaimedAttempt? claimed = null;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (claimed is null && !deadline.IsCancellationRequested)
        {
            await Queue.PromoteDueAsync(100, Ct);
            claimed = (await ClaimAsync(tenant)).SingleOrDefault();
            if (claimed is null) await Task.Delay(100, Ct);
        }

        Assert.NotNull(claimed);
        Assert.Equal(response.ExecutionId, claimed.ExecutionId);
        Assert.Equal(1, claimed.Attempt);
    }

    [Fact]
    public async Task A_far_future_run_is_not_promoted()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var id = await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1));

        await Queue.PromoteDueAsync(100, Ct);

        Assert.Equal(ExecutionStatus.Scheduled, await StatusAsync(id));
        Assert.False(await InReadyQueueAsync(id));
        Assert.Empty(await ClaimAsync(tenant));
    }

    [Fact]
    public async Task A_schedule_with_an_offset_is_stored_as_the_same_instant()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var when = new DateTimeOffset(2035, 6, 1, 12, 30, 15, TimeSpan.FromHours(5.5));

        var id = await SubmitAsync(tenant, job, scheduledAt: when);

        var view = await Executions.GetAsync(tenant, id, Ct);
        Assert.NotNull(view);
        Assert.Equal(when.UtcDateTime, view.ScheduledAt.UtcDateTime);
        Assert.Equal(new DateTime(2035, 6, 1, 7, 0, 15, DateTimeKind.Utc), view.ScheduledAt.UtcDateTime);
        Assert.Equal(when.ToUnixTimeSeconds(),
            (long)await Db.ScalarAsync<decimal>("select extract(epoch from scheduled_at) from executions where id = $1", id));
    }

    [Fact]
    public async Task A_schedule_in_the_past_runs_now()
    {
        var (tenant, job) = await TenantWithJobAsync();

        var id = await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(-1));

        Assert.Equal(ExecutionStatus.Pending, await StatusAsync(id));
        Assert.Equal(id, (await ClaimOneAsync(tenant)).ExecutionId);
    }

    [Fact]
    public async Task Run_options_override_the_jobs_priority_and_timeout()
    {
        var (tenant, job) = await TenantWithJobAsync(priority: 10);

        var response = await Executions.RunAsync(tenant, job, new RunOptions(null, 7, Priority.Critical), null, Ct);

        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(response!.ExecutionId, claim.ExecutionId);
        Assert.Equal(7, claim.Payload.TimeoutSeconds);
        Assert.Equal(Priority.Critical, claim.Payload.Priority);
    }

    [Fact]
    public async Task Running_another_tenants_job_creates_nothing()
    {
        var (owner, job) = await TenantWithJobAsync();
        var stranger = await NewTenantAsync();

        Assert.Null(await Executions.RunAsync(stranger, job, new RunOptions(null, null, null), null, Ct));
        Assert.Null(await Executions.RunAsync(owner, Guid.NewGuid(), new RunOptions(null, null, null), null, Ct));

        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from executions where job_id = $1", job));
        Assert.Empty(await Executions.ListAsync(stranger, null, null, 100, 0, Ct));
    }

    [Fact]
    public async Task Executions_are_visible_only_to_their_tenant()
    {
        var (owner, job) = await TenantWithJobAsync();
        var stranger = await NewTenantAsync();
        var first = await SubmitAsync(owner, job);
        var second = await SubmitAsync(owner, job);

        Assert.Null(await Executions.GetAsync(stranger, first, Ct));
        Assert.Null(await Executions.GetStatusAsync(stranger, first, Ct));
        Assert.Equal(ExecutionStatus.Pending, await Executions.GetStatusAsync(owner, first, Ct));
        Assert.Equal([second, first], (await Executions.ListAsync(owner, null, job, 10, 0, Ct)).Select(e => e.Id));
        Assert.Equal([second, first], (await Executions.ListAsync(owner, ExecutionStatus.Pending, null, 10, 0, Ct)).Select(e => e.Id));
        Assert.Empty(await Executions.ListAsync(owner, ExecutionStatus.Running, null, 10, 0, Ct));
    }
}
