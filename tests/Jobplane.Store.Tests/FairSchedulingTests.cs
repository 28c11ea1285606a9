using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>
/// Claims share scarce workers between tenants (stride scheduling), respect each tenant's cap on
/// running executions exactly (also with concurrent claimers), skip suspended tenants and tenants
/// that do not allow the worker's runtime. Each test makes its own tenants and claims only theirs.
/// </summary>
public sealed class FairSchedulingTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private async Task<(Guid Tenant, Guid Job)> TenantAsync(int maxConcurrent = 0, int weight = 1, string[]? runtimes = null)
    {
        var created = await Tenants.CreateAsync(new TenantSettings
        {
            Name = $"t-{Guid.NewGuid():N}",
            MaxConcurrentExecutions = maxConcurrent,
            Weight = weight,
            AllowedRuntimes = runtimes,
        }, Ct);
        return (created.TenantId, await NewJobAsync(created.TenantId));
    }

    private async Task<List<Guid>> SubmitManyAsync(Guid tenant, Guid job, int count, int? priority = null)
    {
        var batch = await Executions.RunManyAsync(tenant, job, count,
            new RunOptions(null, null, priority is { } p ? new Priority(p) : null), Ct);
        Assert.NotNull(batch);
        return [.. batch.ExecutionIds];
    }

    /// <summary>How many executions each of <paramref name="tenants"/> got in <paramref name="rounds"/> claims of 4 slots.</summary>
    private async Task<Dictionary<Guid, int>> ClaimedPerTenantAsync(int rounds, params Guid[] tenants)
    {
        var got = tenants.ToDictionary(t => t, _ => 0);
        for (var i = 0; i < rounds; i++)
        {
            foreach (var c in await Queue.ClaimAsync(4, "w", tenants, Lease, Ct)) got[c.Payload.TenantId]++;
        }
        return got;
    }

    [Fact]
    public async Task A_tenant_that_floods_the_queue_does_not_hold_back_a_tenant_that_submits_later()
    {
        var (a, aJob) = await TenantAsync();
        var (b, bJob) = await TenantAsync();
        await SubmitManyAsync(a, aJob, 2000);
        var bIds = await SubmitManyAsync(b, bJob, 10);

        // Scarce workers: 4 slots per claim. B's 10 must all be out within a few claims, not after A's 2000.
        var claimedB = new List<Guid>();
        var claims = 0;
        while (claimedB.Count < 10 && claims < 20)
        {
            var batch = await Queue.ClaimAsync(4, "worker-1", [a, b], Lease, Ct);
            claimedB.AddRange(batch.Where(c => c.Payload.TenantId == b).Select(c => c.ExecutionId));
            claims++;
        }
        Assert.Equal(bIds.Order(), claimedB.Order());
        Assert.True(claims <= 6, $"B's 10 executions took {claims} claims of 4");
    }

    [Fact]
    public async Task Tenants_with_ready_work_take_turns_and_weights_set_the_shares()
    {
        var (a, aJob) = await TenantAsync(weight: 3);
        var (b, bJob) = await TenantAsync(weight: 1);
        await SubmitManyAsync(a, aJob, 200);
        await SubmitManyAsync(b, bJob, 200);

        var got = await ClaimedPerTenantAsync(rounds: 20, a, b);
        // 80 slots at 3:1.
        Assert.InRange(got[a], 58, 62);
        Assert.InRange(got[b], 18, 22);
    }

    [Fact]
    public async Task Within_a_tenant_priority_then_due_time_decides()
    {
        var (a, aJob) = await TenantAsync();
        var low = await SubmitAsync(a, aJob, priority: 10);
        var normal = await SubmitAsync(a, aJob);
        var high = await SubmitAsync(a, aJob, priority: 90);
        var order = new List<Guid>();
        for (var i = 0; i < 3; i++) order.Add((await ClaimOneAsync(a)).ExecutionId);
        Assert.Equal([high, normal, low], order);
    }

    [Fact]
    public async Task A_capped_tenant_never_runs_more_than_its_cap_and_the_rest_waits_queued()
    {
        var (a, aJob) = await TenantAsync(maxConcurrent: 2);
        var ids = await SubmitManyAsync(a, aJob, 6);

        var first = await ClaimAsync(a, limit: 10);
        Assert.Equal(2, first.Count);
        Assert.Empty(await ClaimAsync(a, limit: 10));
        // Queued, not rejected.
        Assert.Equal(4, await Db.ScalarAsync<long>("select count(*) from ready_queue where tenant_id = $1", a));

        await SucceedAsync(first[0]);
        var next = await ClaimAsync(a, limit: 10);
        Assert.Single(next);
        Assert.Equal(2, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1 and status = 'RUNNING'", a));
        Assert.Contains(next[0].ExecutionId, ids);
    }

    [Fact]
    public async Task Concurrent_claimers_never_exceed_a_tenants_cap()
    {
        var (a, aJob) = await TenantAsync(maxConcurrent: 3);
        await SubmitManyAsync(a, aJob, 60);
        var running = new List<ClaimedAttempt>();
        var peak = 0L;
        var finished = 0;
        // Eight claimers race while running executions finish one by one.
        while (finished < 60)
        {
            var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Queue.ClaimAsync(5, $"worker-{w}", [a], Lease, Ct)));
            running.AddRange(claims.SelectMany(c => c));
            peak = Math.Max(peak, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1 and status = 'RUNNING'", a));
            Assert.InRange(running.Count, 1, 3);
            await SucceedAsync(running[0]);
            running.RemoveAt(0);
            finished++;
        }
        Assert.Equal(3, peak);
    }

    [Fact]
    public async Task A_suspended_tenants_queued_work_stays_and_runs_once_resumed()
    {
        var (a, aJob) = await TenantAsync();
        var id = await SubmitAsync(a, aJob);
        Assert.True((await Tenants.SetSuspendedAsync(a, true, Ct))!.Suspended);
        Assert.Empty(await ClaimAsync(a));
        Assert.True(await InReadyQueueAsync(id));

        Assert.False((await Tenants.SetSuspendedAsync(a, false, Ct))!.Suspended);
        Assert.Equal(id, (await ClaimOneAsync(a)).ExecutionId);
    }

    [Fact]
    public async Task Only_workers_of_an_allowed_runtime_get_a_tenants_work()
    {
        var (a, aJob) = await TenantAsync(runtimes: ["docker"]);
        var id = await SubmitAsync(a, aJob);
        Assert.Empty(await Queue.ClaimAsync(5, "w", [a], Lease, Ct, runtime: "exec"));
        Assert.Empty(await Queue.ClaimAsync(5, "w", [a], Lease, Ct));
        Assert.Equal(id, Assert.Single(await Queue.ClaimAsync(5, "w", [a], Lease, Ct, runtime: "docker")).ExecutionId);

        // An empty list lifts the restriction.
        await Tenants.UpdateAsync(a, new TenantSettings { AllowedRuntimes = [] }, Ct);
        var other = await SubmitAsync(a, aJob);
        Assert.Equal(other, Assert.Single(await Queue.ClaimAsync(5, "w", [a], Lease, Ct, runtime: "exec")).ExecutionId);
    }

    [Fact]
    public async Task Idle_tenants_are_deactivated_and_new_work_reactivates_them_without_banked_credit()
    {
        var (a, aJob) = await TenantAsync();
        var (b, bJob) = await TenantAsync();
        // A works alone for a while: its virtual time and the scheduler's clock advance.
        await SubmitManyAsync(a, aJob, 100);
        for (var i = 0; i < 10; i++) await Queue.ClaimAsync(5, "w", [a], Lease, Ct);
        Assert.True(await Db.ScalarAsync<bool>("select active from tenant_sched where tenant_id = $1", a));

        await Queue.DeactivateIdleTenantsAsync(Ct);
        Assert.False(await Db.ScalarAsync<bool>("select active from tenant_sched where tenant_id = $1", b));
        Assert.True(await Db.ScalarAsync<bool>("select active from tenant_sched where tenant_id = $1", a));

        // B arrives: it starts at the scheduler's clock, so it shares with A from now on instead of
        // taking the next 50 slots to "catch up" on time it spent idle.
        await SubmitManyAsync(b, bJob, 100);
        Assert.True(await Db.ScalarAsync<bool>("select active from tenant_sched where tenant_id = $1", b));
        var got = await ClaimedPerTenantAsync(rounds: 5, a, b);
        Assert.InRange(got[a], 8, 12);
        Assert.InRange(got[b], 8, 12);
    }

    [Fact]
    public async Task A_tenant_that_claimed_less_than_a_batch_alone_does_not_push_a_newcomer_behind()
    {
        var (a, aJob) = await TenantAsync();
        var (b, bJob) = await TenantAsync();
        // A alone, with 3 ready and a batch of 50: it gets 3, and the scheduler's clock must move by
        // those 3, not by the batch it could have had (a lone tenant's ready rows are not counted).
        await SubmitManyAsync(a, aJob, 3);
        Assert.Equal(3, (await Queue.ClaimAsync(50, "w", [a, b], Lease, Ct)).Count);

        // B arrives at the clock, level with A: from now on they take turns.
        await SubmitManyAsync(a, aJob, 20);
        await SubmitManyAsync(b, bJob, 20);
        var got = await ClaimedPerTenantAsync(rounds: 3, a, b);
        Assert.InRange(got[a], 5, 7);
        Assert.InRange(got[b], 5, 7);
    }

    [Fact]
    public async Task Deactivation_never_strands_ready_work()
    {
        // Submissions and deactivation race; afterwards every tenant with ready rows is active.
        var tenants = new List<(Guid Tenant, Guid Job)>();
        for (var i = 0; i < 8; i++) tenants.Add(await TenantAsync());
        using var stop = new CancellationTokenSource();
        var deactivator = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested) await Queue.DeactivateIdleTenantsAsync(Ct);
        });
        for (var round = 0; round < 20; round++)
        {
            await Task.WhenAll(tenants.Select(async t =>
            {
                await SubmitAsync(t.Tenant, t.Job);
                await Queue.ClaimAsync(1, "w", [t.Tenant], Lease, Ct);
            }));
        }
        await Task.WhenAll(tenants.Select(t => SubmitAsync(t.Tenant, t.Job)));
        await stop.CancelAsync();
        await deactivator;
        Assert.Equal(0, await Db.ScalarAsync<long>("""
            select count(*) from tenant_sched s
            where not s.active and exists (select 1 from ready_queue q where q.tenant_id = s.tenant_id)
            """));
    }

    [Fact]
    public void The_fair_split_follows_weights_and_availability()
    {
        var a = new FairShare.Candidate(Guid.NewGuid(), 0, 1, 100);
        var b = new FairShare.Candidate(Guid.NewGuid(), 0, 1, 100);
        Assert.Equal([5, 5], FairShare.Allocate([a, b], 10));
        // Behind in virtual time: served first until level.
        Assert.Equal([3, 5], FairShare.Allocate([a, b with { VirtualTime = -2 }], 8));
        // Weights.
        Assert.Equal([3, 9], FairShare.Allocate([a, b with { Weight = 3 }], 12));
        // Little available: the rest goes to others.
        Assert.Equal([1, 9], FairShare.Allocate([a with { Available = 1 }, b], 10));
        Assert.Equal([0, 0], FairShare.Allocate([a with { Available = 0 }, b with { Available = 0 }], 10));
    }
}
