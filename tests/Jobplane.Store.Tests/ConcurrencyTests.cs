using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>What happens when several controller replicas (or impatient users) do the same thing at once.</summary>
public sealed class ConcurrencyTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static Task<T[]> InParallel<T>(int n, Func<int, Task<T>> action) =>
        Task.WhenAll(Enumerable.Range(0, n).Select(i => Task.Run(() => action(i))));

    [Fact]
    public async Task Replicas_promoting_at_once_promote_each_execution_once()
    {
        var (tenant, job) = await TenantWithJobAsync();
        for (var i = 0; i < 60; i++) await SubmitAsync(tenant, job, scheduledAt: DateTimeOffset.UtcNow.AddHours(1));
        await ExecAsync("update executions set scheduled_at = now() - interval '1 second' where tenant_id = $1", tenant);

        var promoted = await InParallel(6, async _ =>
        {
            var total = 0;
            for (int n; (n = await Queue.PromoteDueAsync(7, Ct)) > 0;) total += n;
            return total;
        });

        Assert.True(promoted.Sum() >= 60);
        Assert.Equal(60L, await Db.ScalarAsync<long>("select count(*) from ready_queue where tenant_id = $1", tenant));
        Assert.Equal(60, (await ClaimAsync(tenant, limit: 100)).Count);
    }

    [Fact]
    public async Task Replicas_rescuing_at_once_requeue_each_execution_once()
    {
        var (tenant, job) = await TenantWithJobAsync();
        for (var i = 0; i < 40; i++) await SubmitAsync(tenant, job);
        var first = await ClaimAsync(tenant, limit: 100);
        Assert.Equal(40, first.Count);
        await ExecAsync("update executions set lease_expires_at = now() - interval '1 second' where tenant_id = $1", tenant);

        await InParallel(6, async _ =>
        {
            var total = 0;
            for (int n; (n = await Queue.RescueExpiredAsync(5, Ct)) > 0;) total += n;
            return total;
        });

        Assert.Equal(40L, await Db.ScalarAsync<long>("select count(*) from ready_queue where tenant_id = $1", tenant));
        Assert.Equal(40L, await Db.ScalarAsync<long>(
            "select count(*) from execution_attempts a join executions e on e.id = a.execution_id where e.tenant_id = $1 and a.outcome = 'lease_expired'", tenant));
        var second = await ClaimAsync(tenant, limit: 100);
        Assert.Equal(40, second.Count);
        Assert.All(second, c => Assert.Equal(2, c.Attempt));
    }

    [Fact]
    public async Task Simultaneous_results_for_one_attempt_are_recorded_once()
    {
        var (tenant, _, claim) = await RunningAsync(maxAttempts: 1);

        var outcomes = await InParallel(6, i => i % 2 == 0 ? SucceedAsync(claim) : FailAsync(claim));

        var accepted = Assert.Single(outcomes, o => o.Check == LeaseCheck.Accepted);
        Assert.All(outcomes.Where(o => o != accepted), o => Assert.Equal(LeaseCheck.LeaseLost, o.Check));
        Assert.Equal(accepted.Status, await StatusAsync(claim.ExecutionId));
        Assert.Equal(accepted.Status == ExecutionStatus.Failed ? 1 : 0, (await Executions.ListDeadLettersAsync(tenant, 10, 0, Ct)).Count);
    }

    [Fact]
    public async Task Simultaneous_retries_of_a_dead_letter_create_one_execution()
    {
        var (tenant, job, failed) = await DeadLetteredAsync();

        var results = await InParallel(6, async _ =>
        {
            try
            {
                return await Executions.RetryDeadLetterAsync(tenant, failed, Ct);
            }
            catch (StoreConflictException)
            {
                return (Guid?)null;
            }
        });

        Assert.Single(results, r => r is not null);
        Assert.Equal(2L, await Db.ScalarAsync<long>("select count(*) from executions where job_id = $1", job));
    }

    [Fact]
    public async Task Simultaneous_upserts_of_one_job_name_create_one_job()
    {
        var tenant = await NewTenantAsync();

        var results = await InParallel(8, i => Jobs.UpsertAsync(tenant, Spec("same-name", image: $"img:{i}"), Ct));

        Assert.Single(results.Select(r => r.JobId).Distinct());
        Assert.Single(results, r => r.Created);
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from jobs where tenant_id = $1", tenant));
    }

    [Fact]
    public async Task Simultaneous_tenant_creations_with_one_name_create_one_tenant()
    {
        var name = $"race-{Guid.NewGuid():N}";

        var results = await InParallel(6, async _ =>
        {
            try
            {
                return (CreatedTenant?)await Tenants.CreateAsync(new TenantSettings { Name = name }, Ct);
            }
            catch (StoreConflictException)
            {
                return null;
            }
        });

        var created = Assert.Single(results, r => r is not null);
        Assert.Equal(created!.TenantId, await Tenants.AuthenticateAsync(created.ApiKey, Ct));
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from tenants where name = $1", name));
    }
}
