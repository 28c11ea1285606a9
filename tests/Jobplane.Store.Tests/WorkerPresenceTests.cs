using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>What keeps a worker counted as connected: a heartbeat for work it really runs, under its own name.</summary>
public sealed class WorkerPresenceTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_heartbeat_keeps_only_the_worker_that_runs_the_leases_connected()
    {
        var workers = new WorkerStore(Db.DataSource);
        var (tenant, job) = await TenantWithJobAsync();
        await SubmitAsync(tenant, job);
        var mine = await ClaimOneAsync(tenant, worker: "presence-runner");
        var gone = $"presence-gone-{Guid.NewGuid():N}";
        foreach (var w in new[] { "presence-runner", gone })
            await workers.UpsertAsync(w, null, WorkerGrants.Any, null, null, Ct);
        await ExecAsync("update workers set seen_at = now() - interval '1 hour' where worker_id = any($1)", (object)new[] { "presence-runner", gone });

        // A heartbeat that names a gone worker, with leases that worker does not hold, changes nothing.
        await workers.TouchAsync(gone, [mine.ExecutionId], Ct);
        await workers.TouchAsync(gone, [Guid.NewGuid()], Ct);
        Assert.True(await SeenLongAgoAsync(gone));

        await workers.TouchAsync("presence-runner", [mine.ExecutionId], Ct);
        Assert.False(await SeenLongAgoAsync("presence-runner"));

        // Once the execution is finished, its lease no longer keeps the worker connected.
        await SucceedAsync(mine);
        await ExecAsync("update workers set seen_at = now() - interval '1 hour' where worker_id = $1", "presence-runner");
        await workers.TouchAsync("presence-runner", [mine.ExecutionId], Ct);
        Assert.True(await SeenLongAgoAsync("presence-runner"));
    }

    private async Task<bool> SeenLongAgoAsync(string workerId) =>
        await Db.ScalarAsync<bool>("select seen_at < now() - interval '30 minutes' from workers where worker_id = $1", workerId);
}
