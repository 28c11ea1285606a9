using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>
/// The fleet share through real claims: workers announce their slots, and a tenant that holds
/// more than its share of them gets no new slot while another tenant has ready work the claiming
/// worker can run. Each test sets the connected fleet itself (workers other tests announced are
/// made to look long gone) and claims only its own tenants' work.
/// </summary>
public sealed class FleetShareClaimTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private WorkerStore Workers => new(Db.DataSource);

    /// <summary>The connected fleet is exactly these workers, each announcing its slots (null: announcing none, as an older worker).</summary>
    private async Task FleetAsync(params int?[] slots)
    {
        await ExecAsync("update workers set seen_at = now() - interval '1 hour'");
        foreach (var s in slots)
            await Workers.UpsertAsync($"w-{Guid.NewGuid():N}", "docker", new WorkerGrants { Slots = s }, null, null, Ct);
    }

    private async Task<(Guid Tenant, Guid Job)> TenantAsync(double? maxFleetShare = null, string image = "alpine:3", int maxConcurrent = 0)
    {
        var created = await Tenants.CreateAsync(new TenantSettings
        {
            Name = $"t-{Guid.NewGuid():N}",
            MaxFleetShare = maxFleetShare,
            MaxConcurrentExecutions = maxConcurrent,
        }, Ct);
        var job = (await Jobs.UpsertAsync(created.TenantId, Spec(image: image), Ct)).JobId;
        return (created.TenantId, job);
    }

    private async Task SubmitManyAsync(Guid tenant, Guid job, int count) =>
        Assert.NotNull(await Executions.RunManyAsync(tenant, job, count, new RunOptions(null, null, null), Ct));

    /// <summary>A claims alone (no other tenant has work yet) until it runs <paramref name="running"/> executions.</summary>
    private async Task<Queue<ClaimedAttempt>> HoldAsync(Guid tenant, int running)
    {
        var held = await Queue.ClaimAsync(running, "w", [tenant], Lease, Ct);
        Assert.Equal(running, held.Count);
        return new Queue<ClaimedAttempt>(held);
    }

    private async Task<Dictionary<Guid, int>> ClaimCountsAsync(int limit, Guid[] tenants, WorkerGrants? grants = null)
    {
        var counts = tenants.ToDictionary(t => t, _ => 0);
        foreach (var c in await Queue.ClaimAsync(limit, "w", tenants, Lease, Ct, grants: grants)) counts[c.Payload.TenantId]++;
        return counts;
    }

    private Task<long> RunningAsync(Guid tenant) =>
        Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1 and status = 'RUNNING'", tenant);

    [Fact]
    public async Task A_tenant_holding_the_whole_fleet_gets_no_freed_slot_until_it_is_down_to_its_share()
    {
        await FleetAsync(4, 6);
        var (a, aJob) = await TenantAsync();
        var (b, bJob) = await TenantAsync();
        await SubmitManyAsync(a, aJob, 30);
        var aHeld = await HoldAsync(a, 10);
        await SubmitManyAsync(b, bJob, 30);

        // Slot after slot frees up as A's executions finish. The share is 5 of the 10 slots: B gets
        // every freed slot until A, at or below 5, is within its share again.
        var bHeld = new Queue<ClaimedAttempt>();
        for (var i = 1; i <= 5; i++)
        {
            await SucceedAsync(aHeld.Dequeue());
            var claimed = Assert.Single(await Queue.ClaimAsync(1, "w", [a, b], Lease, Ct));
            Assert.True(claimed.Payload.TenantId == b, $"freed slot {i} went to A, which runs {await RunningAsync(a)}");
            bHeld.Enqueue(claimed);
        }
        Assert.Equal(5, await RunningAsync(a));
        Assert.Equal(5, await RunningAsync(b));

        // Now each holds its share: a slot A frees goes back to A, one B frees to B.
        await SucceedAsync(aHeld.Dequeue());
        Assert.Equal(a, Assert.Single(await Queue.ClaimAsync(1, "w", [a, b], Lease, Ct)).Payload.TenantId);
        await SucceedAsync(bHeld.Dequeue());
        Assert.Equal(b, Assert.Single(await Queue.ClaimAsync(1, "w", [a, b], Lease, Ct)).Payload.TenantId);
    }

    [Fact]
    public async Task A_tenant_with_a_concurrency_cap_above_its_share_is_held_to_the_share_too()
    {
        // max_concurrent_executions 8 of a fleet of 10: the share (5) binds first while B waits.
        await FleetAsync(10);
        var (a, aJob) = await TenantAsync(maxConcurrent: 8);
        var (b, bJob) = await TenantAsync();
        await SubmitManyAsync(a, aJob, 30);
        var aHeld = await HoldAsync(a, 8);
        await SubmitManyAsync(b, bJob, 30);

        await SucceedAsync(aHeld.Dequeue());
        await SucceedAsync(aHeld.Dequeue());
        Assert.Equal(2, (await ClaimCountsAsync(2, [a, b]))[b]);
        Assert.Equal(6, await RunningAsync(a));
    }

    [Fact]
    public async Task Without_competition_a_tenant_over_its_share_gets_every_freed_slot()
    {
        await FleetAsync(10);
        var (a, aJob) = await TenantAsync();
        var (b, bJob) = await TenantAsync(image: "exec");
        await SubmitManyAsync(a, aJob, 30);
        var aHeld = await HoldAsync(a, 10);

        // B has nothing ready: A, at 7 of 10, takes all 3 freed slots.
        for (var i = 0; i < 3; i++) await SucceedAsync(aHeld.Dequeue());
        Assert.Equal(3, (await ClaimCountsAsync(3, [a, b]))[a]);

        // B's ready work is exec, and this worker runs containers only: it does not hold A back here.
        await SubmitManyAsync(b, bJob, 5);
        for (var i = 0; i < 3; i++) await SucceedAsync(aHeld.Dequeue());
        var containerWorker = new WorkerGrants { Classes = [RuntimeClasses.Container] };
        Assert.Equal(3, (await ClaimCountsAsync(3, [a, b], containerWorker))[a]);
        // A worker that can run B's work hands it B's.
        await SucceedAsync(aHeld.Dequeue());
        Assert.Equal(1, (await ClaimCountsAsync(1, [a, b]))[b]);
    }

    [Fact]
    public async Task When_both_tenants_are_at_their_share_the_free_slots_are_split_between_them()
    {
        // Shares of 0.2 of 10 slots: 2 each. Six slots are free, and both have work past their share.
        await FleetAsync(10);
        var (a, aJob) = await TenantAsync(maxFleetShare: 0.2);
        var (b, bJob) = await TenantAsync(maxFleetShare: 0.2);
        await SubmitManyAsync(a, aJob, 20);
        await SubmitManyAsync(b, bJob, 20);
        var first = await ClaimCountsAsync(4, [a, b]);
        Assert.Equal(2, first[a]);
        Assert.Equal(2, first[b]);

        // Nobody left below its share: the leftover goes by turns rather than stay idle.
        var leftover = await ClaimCountsAsync(6, [a, b]);
        Assert.Equal(3, leftover[a]);
        Assert.Equal(3, leftover[b]);
    }

    [Fact]
    public async Task A_tenants_own_max_fleet_share_replaces_the_operators_fraction()
    {
        await FleetAsync(10);
        var (a, aJob) = await TenantAsync(maxFleetShare: 0.3);
        var (b, bJob) = await TenantAsync();
        await SubmitManyAsync(a, aJob, 30);
        await HoldAsync(a, 3);
        await SubmitManyAsync(b, bJob, 30);

        // A's share is 3 of the 10 slots, not the operator's 5: at 3 it gets nothing while B waits,
        // and B takes all five up to its own share.
        var first = await ClaimCountsAsync(5, [a, b]);
        Assert.Equal(0, first[a]);
        Assert.Equal(5, first[b]);

        // Raised above the operator's fraction (8 of 10): A gets slots while B, at 5, waits.
        await Tenants.UpdateAsync(a, new TenantSettings { MaxFleetShare = 0.8 }, Ct);
        Assert.Equal(0.8, (await Tenants.GetAsync(a, Ct))!.MaxFleetShare);
        Assert.Equal(2, (await ClaimCountsAsync(2, [a, b]))[a]);

        // 1: no cap for A at all.
        await Tenants.UpdateAsync(a, new TenantSettings { MaxFleetShare = 1 }, Ct);
        Assert.Equal(4, (await ClaimCountsAsync(4, [a, b]))[a]);
        Assert.Equal(9, await RunningAsync(a));
    }

    [Fact]
    public async Task With_no_worker_announcing_its_slots_there_is_no_share_cap()
    {
        // Two older workers, connected but announcing nothing: the fleet's size is unknown.
        await FleetAsync(null, null);
        var (a, aJob) = await TenantAsync();
        var (b, bJob) = await TenantAsync();
        await SubmitManyAsync(a, aJob, 30);
        var aHeld = await HoldAsync(a, 10);
        await SubmitManyAsync(b, bJob, 30);

        // Stride alone, as before the fleet share: A, holding everything, still wins half of the freed slots.
        await SucceedAsync(aHeld.Dequeue());
        await SucceedAsync(aHeld.Dequeue());
        var counts = await ClaimCountsAsync(2, [a, b]);
        Assert.Equal(1, counts[a]);
        Assert.Equal(1, counts[b]);
    }

    [Fact]
    public async Task Only_workers_seen_in_the_last_minute_count_and_an_operator_fraction_of_1_lifts_the_cap()
    {
        await FleetAsync(10);
        // A worker gone for long announced many slots: it does not make the share larger.
        await Workers.UpsertAsync($"gone-{Guid.NewGuid():N}", "docker", new WorkerGrants { Slots = 1000 }, null, null, Ct);
        await ExecAsync("update workers set seen_at = now() - interval '61 seconds' where worker_id like 'gone-%'");
        var (a, aJob) = await TenantAsync();
        var (b, bJob) = await TenantAsync();
        await SubmitManyAsync(a, aJob, 30);
        await HoldAsync(a, 6);
        await SubmitManyAsync(b, bJob, 30);
        Assert.Equal(2, (await ClaimCountsAsync(2, [a, b]))[b]);

        // FAIR_SHARE_MAX_FRACTION=1: stride alone decides. B arrived level with A and has had 2
        // since, so A gets the next two turns and then one of the two after.
        var uncapped = new Dictionary<Guid, int> { [a] = 0, [b] = 0 };
        foreach (var c in await Queue.ClaimAsync(4, "w", [a, b], Lease, Ct, maxFleetShare: 1)) uncapped[c.Payload.TenantId]++;
        Assert.Equal(3, uncapped[a]);
        Assert.Equal(1, uncapped[b]);
    }
}
