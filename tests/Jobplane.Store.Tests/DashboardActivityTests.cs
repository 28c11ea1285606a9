using Jobplane.Store.Dashboard;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>The overview's figures: what finished in the window, per bucket and per tenant, and nothing of another tenant's.</summary>
public sealed class DashboardActivityTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Finished_executions_are_counted_in_their_minute_and_only_for_their_tenant()
    {
        var (tenant, job) = await TenantWithJobAsync(maxAttempts: 1);
        var (other, otherJob) = await TenantWithJobAsync();
        for (var i = 0; i < 3; i++)
        {
            await SubmitAsync(tenant, job);
            await SucceedAsync(await ClaimOneAsync(tenant));
        }
        await SubmitAsync(tenant, job);
        await FailAsync(await ClaimOneAsync(tenant), retryable: false);
        // Finished long before the window: not counted.
        var old = await SubmitAsync(tenant, job);
        await SucceedAsync(await ClaimOneAsync(tenant));
        await ExecAsync("update executions set completed_at = now() - interval '2 hours' where id = $1", old);
        var cancelled = await SubmitAsync(tenant, job);
        await ExecAsync("delete from ready_queue where execution_id = $1", cancelled);
        await ExecAsync("update executions set status = 'CANCELLED', completed_at = now() where id = $1", cancelled);
        // Another tenant's work, in the same minutes.
        await SubmitAsync(other, otherJob);
        await SucceedAsync(await ClaimOneAsync(other));

        var queries = new ActivityQueries(Db.DataSource);
        var hour = await queries.ReadAsync(tenant, TimeSpan.FromHours(1), TimeSpan.FromMinutes(1), Ct);
        Assert.Equal((3L, 1L, 1L), (hour.Succeeded, hour.Failed, hour.Cancelled));
        // Every minute of the hour has its bucket, evenly spaced, the last holding what just finished.
        Assert.InRange(hour.Slots.Count, 60, 61);
        Assert.All(hour.Slots.Zip(hour.Slots.Skip(1)), p => Assert.Equal(TimeSpan.FromMinutes(1), p.Second.Start - p.First.Start));
        Assert.Equal(5L, hour.Slots.TakeLast(2).Sum(s => s.Succeeded + s.Failed + s.Cancelled));
        Assert.NotNull(hour.PickupP50Seconds);
        Assert.Equal([tenant], hour.Tenants.Select(t => t.TenantId));

        var day = await queries.ReadAsync(tenant, TimeSpan.FromDays(1), TimeSpan.FromMinutes(30), Ct);
        Assert.Equal(4L, day.Succeeded);

        // The administrator's view: every tenant, each with its own totals.
        var all = await queries.ReadAsync(null, TimeSpan.FromHours(1), TimeSpan.FromMinutes(1), Ct);
        var byTenant = all.Tenants.ToDictionary(t => t.TenantId);
        Assert.Equal(3L, byTenant[tenant].Succeeded);
        Assert.Equal(1L, byTenant[other].Succeeded);
    }
}
