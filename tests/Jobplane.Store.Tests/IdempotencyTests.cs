using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>Runs with an idempotency key: one execution per key per tenant within 24 hours.</summary>
public sealed class IdempotencyTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static readonly RunOptions Now = new(null, null, null);

    private static string NewKey() => $"key-{Guid.NewGuid():N}";

    private Task<SubmittedRun?> RunAsync(Guid tenant, Guid job, string? key) => Executions.RunAsync(tenant, job, Now, key, Ct);

    private Task<long> ExecutionCountAsync(Guid job) =>
        Db.ScalarAsync<long>("select count(*) from executions where job_id = $1", job);

    private Task AgeKeyAsync(Guid tenant, string key) =>
        ExecAsync("update idempotency_keys set created_at = now() - interval '25 hours' where tenant_id = $1 and key = $2", tenant, key);

    [Fact]
    public async Task The_first_run_with_a_key_creates_and_a_repeat_replays_the_same_execution()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var key = NewKey();

        var first = await RunAsync(tenant, job, key);
        var repeat = await RunAsync(tenant, job, key);

        Assert.NotNull(first);
        Assert.Equal(ExecutionStatus.Pending, first.Status);
        Assert.False(first.Replayed);
        Assert.NotNull(repeat);
        Assert.Equal(first.ExecutionId, repeat.ExecutionId);
        Assert.True(repeat.Replayed);
        Assert.Equal(1L, await ExecutionCountAsync(job));
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from ready_queue where tenant_id = $1", tenant));

        // A replay reports the execution's current status, and still creates nothing.
        var claim = await ClaimOneAsync(tenant);
        Assert.Equal(first.ExecutionId, claim.ExecutionId);
        var later = await RunAsync(tenant, job, key);
        Assert.Equal(first.ExecutionId, later!.ExecutionId);
        Assert.Equal(ExecutionStatus.Running, later.Status);
        Assert.True(later.Replayed);
        Assert.Equal(1L, await ExecutionCountAsync(job));
        Assert.Empty(await ClaimAsync(tenant));
    }

    [Fact]
    public async Task Runs_without_a_key_or_with_different_keys_each_create_an_execution()
    {
        var (tenant, job) = await TenantWithJobAsync();

        var ids = new[]
        {
            (await RunAsync(tenant, job, null))!.ExecutionId,
            (await RunAsync(tenant, job, null))!.ExecutionId,
            (await RunAsync(tenant, job, NewKey()))!.ExecutionId,
            (await RunAsync(tenant, job, NewKey()))!.ExecutionId,
        };

        Assert.Equal(4, ids.Distinct().Count());
        Assert.Equal(4L, await ExecutionCountAsync(job));
    }

    [Fact]
    public async Task Twenty_concurrent_runs_with_one_key_create_exactly_one_execution()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var key = NewKey();

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => RunAsync(tenant, job, key))));

        Assert.All(results, Assert.NotNull);
        var id = Assert.Single(results.Select(r => r!.ExecutionId).Distinct());
        Assert.Single(results, r => !r!.Replayed);
        Assert.Equal(19, results.Count(r => r!.Replayed));
        Assert.Equal(1L, await ExecutionCountAsync(job));
        Assert.Equal(id, (await ClaimOneAsync(tenant)).ExecutionId);
        Assert.Empty(await ClaimAsync(tenant));
    }

    [Fact]
    public async Task The_same_key_in_another_tenant_is_independent()
    {
        var (tenantA, jobA) = await TenantWithJobAsync();
        var (tenantB, jobB) = await TenantWithJobAsync();
        var key = NewKey();

        var a = await RunAsync(tenantA, jobA, key);
        var b = await RunAsync(tenantB, jobB, key);

        Assert.NotEqual(a!.ExecutionId, b!.ExecutionId);
        Assert.False(b.Replayed);
        Assert.Equal(1L, await ExecutionCountAsync(jobA));
        Assert.Equal(1L, await ExecutionCountAsync(jobB));
        Assert.Equal(b.ExecutionId, (await RunAsync(tenantB, jobB, key))!.ExecutionId);
        Assert.Equal(a.ExecutionId, (await RunAsync(tenantA, jobA, key))!.ExecutionId);
    }

    [Fact]
    public async Task The_same_key_for_another_job_of_the_tenant_is_a_conflict()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var otherJob = await NewJobAsync(tenant);
        var key = NewKey();
        var first = await RunAsync(tenant, job, key);

        var e = await Assert.ThrowsAsync<StoreConflictException>(() => RunAsync(tenant, otherJob, key));

        Assert.Contains(key, e.Message);
        Assert.Equal(0L, await ExecutionCountAsync(otherJob));
        Assert.Equal(1L, await ExecutionCountAsync(job));
        // The key still belongs to the first job's execution.
        Assert.Equal(first!.ExecutionId, (await RunAsync(tenant, job, key))!.ExecutionId);
    }

    [Fact]
    public async Task A_key_for_a_job_that_is_not_the_tenants_creates_nothing_and_is_not_taken()
    {
        var (owner, job) = await TenantWithJobAsync();
        var (stranger, strangersJob) = await TenantWithJobAsync();
        var key = NewKey();

        Assert.Null(await RunAsync(stranger, job, key));
        Assert.Null(await RunAsync(stranger, Guid.NewGuid(), key));

        Assert.Equal(0L, await ExecutionCountAsync(job));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from idempotency_keys where tenant_id = $1", stranger));
        // The key is still free for the stranger's own job.
        var own = await RunAsync(stranger, strangersJob, key);
        Assert.False(own!.Replayed);
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1", owner));
    }

    [Fact]
    public async Task A_key_older_than_24_hours_no_longer_replays()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var key = NewKey();
        var first = await RunAsync(tenant, job, key);
        await AgeKeyAsync(tenant, key);

        var second = await RunAsync(tenant, job, key);

        Assert.NotEqual(first!.ExecutionId, second!.ExecutionId);
        Assert.False(second.Replayed);
        Assert.Equal(ExecutionStatus.Pending, second.Status);
        Assert.Equal(2L, await ExecutionCountAsync(job));
        // The key now names the new execution, and replays it.
        var third = await RunAsync(tenant, job, key);
        Assert.Equal(second.ExecutionId, third!.ExecutionId);
        Assert.True(third.Replayed);
        Assert.Equal(2L, await ExecutionCountAsync(job));
    }

    [Fact]
    public async Task An_expired_key_may_be_reused_for_another_job()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var otherJob = await NewJobAsync(tenant);
        var key = NewKey();
        await RunAsync(tenant, job, key);
        await AgeKeyAsync(tenant, key);

        var other = await RunAsync(tenant, otherJob, key);

        Assert.False(other!.Replayed);
        Assert.Equal(1L, await ExecutionCountAsync(otherJob));
    }

    [Fact]
    public async Task Expiring_keys_deletes_only_those_older_than_24_hours()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var oldKey = NewKey();
        var freshKey = NewKey();
        var old = await RunAsync(tenant, job, oldKey);
        var fresh = await RunAsync(tenant, job, freshKey);
        await AgeKeyAsync(tenant, oldKey);

        var deleted = 0;
        for (int n; (n = await Queue.ExpireIdempotencyKeysAsync(1, Ct)) > 0;) deleted += n;

        Assert.True(deleted >= 1);
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from idempotency_keys where tenant_id = $1 and key = $2", tenant, oldKey));
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from idempotency_keys where tenant_id = $1 and key = $2", tenant, freshKey));
        Assert.Equal(0L, await Db.ScalarAsync<long>("select count(*) from idempotency_keys where created_at < now() - interval '24 hours'"));
        // The executions themselves stay; the fresh key still replays.
        Assert.NotNull(await Executions.GetAsync(tenant, old!.ExecutionId, Ct));
        Assert.Equal(fresh!.ExecutionId, (await RunAsync(tenant, job, freshKey))!.ExecutionId);
        Assert.Equal(0, await Queue.ExpireIdempotencyKeysAsync(100, Ct));
    }

    [Fact]
    public async Task A_scheduled_run_with_a_key_replays_as_scheduled()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var key = NewKey();
        var options = new RunOptions(DateTimeOffset.UtcNow.AddHours(1), null, null);

        var first = await Executions.RunAsync(tenant, job, options, key, Ct);
        var repeat = await Executions.RunAsync(tenant, job, options, key, Ct);

        Assert.Equal(ExecutionStatus.Scheduled, first!.Status);
        Assert.Equal(first.ExecutionId, repeat!.ExecutionId);
        Assert.Equal(ExecutionStatus.Scheduled, repeat.Status);
        Assert.True(repeat.Replayed);
        Assert.False(await InReadyQueueAsync(first.ExecutionId));
    }
}
