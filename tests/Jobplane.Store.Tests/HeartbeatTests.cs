using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class HeartbeatTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private Task<DateTime> LeaseExpiresAtAsync(Guid id) =>
        Db.ScalarAsync<DateTime>("select lease_expires_at from executions where id = $1", id);

    [Fact]
    public async Task A_heartbeat_with_the_right_token_extends_the_lease()
    {
        var (_, _, claim) = await RunningAsync();
        var before = await LeaseExpiresAtAsync(claim.ExecutionId);

        var extended = await Queue.HeartbeatAsync([new LeaseRef(claim.ExecutionId, claim.LeaseToken)], TimeSpan.FromMinutes(10), Ct);

        var (id, expiresAt) = Assert.Single(extended);
        Assert.Equal(claim.ExecutionId, id);
        var after = await LeaseExpiresAtAsync(claim.ExecutionId);
        Assert.True(after > before, $"lease should move forward: {before:O} -> {after:O}");
        Assert.Equal(after, expiresAt.UtcDateTime);
        Assert.Equal(ExecutionStatus.Running, await StatusAsync(claim.ExecutionId));
    }

    [Fact]
    public async Task A_heartbeat_with_a_wrong_token_extends_nothing()
    {
        var (_, _, claim) = await RunningAsync();
        var before = await LeaseExpiresAtAsync(claim.ExecutionId);

        Assert.Empty(await Queue.HeartbeatAsync([new LeaseRef(claim.ExecutionId, Guid.NewGuid())], TimeSpan.FromMinutes(10), Ct));
        Assert.Empty(await Queue.HeartbeatAsync([new LeaseRef(Guid.NewGuid(), claim.LeaseToken)], TimeSpan.FromMinutes(10), Ct));

        Assert.Equal(before, await LeaseExpiresAtAsync(claim.ExecutionId));
    }

    [Fact]
    public async Task A_batch_heartbeat_extends_only_the_leases_still_held()
    {
        var (tenant, job) = await TenantWithJobAsync();
        await SubmitAsync(tenant, job);
        await SubmitAsync(tenant, job);
        await SubmitAsync(tenant, job);
        var claims = await ClaimAsync(tenant, limit: 3);
        Assert.Equal(3, claims.Count);
        Assert.Equal(ExecutionStatus.Succeeded, (await SucceedAsync(claims[2])).Status);

        var extended = await Queue.HeartbeatAsync(
        [
            new LeaseRef(claims[0].ExecutionId, claims[0].LeaseToken),
            new LeaseRef(claims[1].ExecutionId, Guid.NewGuid()),
            new LeaseRef(claims[2].ExecutionId, claims[2].LeaseToken),
        ], Lease, Ct);

        Assert.Equal([claims[0].ExecutionId], extended.Select(e => e.Id));
    }

    [Fact]
    public async Task An_empty_heartbeat_is_harmless()
    {
        Assert.Empty(await Queue.HeartbeatAsync([], Lease, Ct));
    }
}
