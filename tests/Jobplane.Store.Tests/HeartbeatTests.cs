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

        var extended = await Queue.HeartbeatAsync([new AttemptLease(claim.ExecutionId, claim.LeaseToken)], TimeSpan.FromMinutes(10), Ct);

        var (id, expiresAt, cancel) = Assert.Single(extended);
        Assert.False(cancel);
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

        Assert.Empty(await Queue.HeartbeatAsync([new AttemptLease(claim.ExecutionId, Guid.NewGuid())], TimeSpan.FromMinutes(10), Ct));
        Assert.Empty(await Queue.HeartbeatAsync([new AttemptLease(Guid.NewGuid(), claim.LeaseToken)], TimeSpan.FromMinutes(10), Ct));

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
            new AttemptLease(claims[0].ExecutionId, claims[0].LeaseToken),
            new AttemptLease(claims[1].ExecutionId, Guid.NewGuid()),
            new AttemptLease(claims[2].ExecutionId, claims[2].LeaseToken),
        ], Lease, Ct);

        Assert.Equal([claims[0].ExecutionId], extended.Select(e => e.Id));
    }

    [Fact]
    public async Task An_empty_heartbeat_is_harmless()
    {
        Assert.Empty(await Queue.HeartbeatAsync([], Lease, Ct));
    }

    private Task<string> RowVersionAsync(Guid id) =>
        Db.ScalarAsync<string>("select xmin::text from executions where id = $1", id);

    private Task SetLeaseLeftAsync(Guid id, int seconds) =>
        ExecAsync("update executions set lease_expires_at = now() + make_interval(secs => $2) where id = $1", id, (double)seconds);

    [Fact]
    public async Task A_lease_just_granted_is_not_rewritten_but_is_still_held()
    {
        var (_, _, claim) = await RunningAsync();
        var before = await LeaseExpiresAtAsync(claim.ExecutionId);
        var version = await RowVersionAsync(claim.ExecutionId);

        var held = Assert.Single(await Queue.HeartbeatAsync([new AttemptLease(claim.ExecutionId, claim.LeaseToken)], Lease, Ct));

        Assert.Equal(claim.ExecutionId, held.Id);
        Assert.False(held.CancelRequested);
        Assert.Equal(before, held.ExpiresAt.UtcDateTime);
        Assert.Equal(claim.LeaseExpiresAt, held.ExpiresAt);
        Assert.Equal(before, await LeaseExpiresAtAsync(claim.ExecutionId));
        Assert.Equal(version, await RowVersionAsync(claim.ExecutionId)); // the row was not even rewritten
    }

    [Theory]
    [InlineData(25)] // a sixth of the 30 s lease used
    [InlineData(22)] // not quite a third used
    public async Task A_lease_that_used_less_than_a_third_of_its_life_is_not_extended(int secondsLeft)
    {
        var (_, _, claim) = await RunningAsync();
        await SetLeaseLeftAsync(claim.ExecutionId, secondsLeft);
        var before = await LeaseExpiresAtAsync(claim.ExecutionId);
        var version = await RowVersionAsync(claim.ExecutionId);

        var held = Assert.Single(await Queue.HeartbeatAsync([new AttemptLease(claim.ExecutionId, claim.LeaseToken)], Lease, Ct));

        Assert.Equal(before, held.ExpiresAt.UtcDateTime);
        Assert.Equal(before, await LeaseExpiresAtAsync(claim.ExecutionId));
        Assert.Equal(version, await RowVersionAsync(claim.ExecutionId));
    }

    [Theory]
    [InlineData(19)] // just over a third used
    [InlineData(10)]
    [InlineData(1)]
    public async Task A_lease_that_used_more_than_a_third_of_its_life_is_extended_to_a_full_lease(int secondsLeft)
    {
        var (_, _, claim) = await RunningAsync();
        await SetLeaseLeftAsync(claim.ExecutionId, secondsLeft);
        var before = await LeaseExpiresAtAsync(claim.ExecutionId);

        var held = Assert.Single(await Queue.HeartbeatAsync([new AttemptLease(claim.ExecutionId, claim.LeaseToken)], Lease, Ct));

        var after = await LeaseExpiresAtAsync(claim.ExecutionId);
        Assert.True(after > before, $"lease should move forward: {before:O} -> {after:O}");
        Assert.Equal(after, held.ExpiresAt.UtcDateTime);
        // A full lease from the heartbeat's own now(): more than the 2/3 that triggers an extension.
        Assert.True(await Db.ScalarAsync<bool>(
            "select lease_expires_at > now() + interval '20 seconds' and lease_expires_at <= now() + interval '30 seconds' from executions where id = $1",
            claim.ExecutionId));
    }

    [Fact]
    public async Task A_batch_heartbeat_extends_only_the_aging_leases_and_returns_every_held_one()
    {
        var (tenant, job) = await TenantWithJobAsync();
        for (var i = 0; i < 3; i++) await SubmitAsync(tenant, job);
        var claims = await ClaimAsync(tenant, limit: 3);
        Assert.Equal(3, claims.Count);
        await SetLeaseLeftAsync(claims[1].ExecutionId, 5);
        var fresh = await LeaseExpiresAtAsync(claims[0].ExecutionId);
        var aging = await LeaseExpiresAtAsync(claims[1].ExecutionId);

        var held = await Queue.HeartbeatAsync([.. claims.Select(c => new AttemptLease(c.ExecutionId, c.LeaseToken))], Lease, Ct);

        Assert.Equal(claims.Select(c => c.ExecutionId).Order(), held.Select(h => h.Id).Order());
        Assert.Equal(fresh, await LeaseExpiresAtAsync(claims[0].ExecutionId));
        Assert.True(await LeaseExpiresAtAsync(claims[1].ExecutionId) > aging);
        foreach (var h in held) Assert.Equal(await LeaseExpiresAtAsync(h.Id), h.ExpiresAt.UtcDateTime);
    }

    [Fact]
    public async Task Held_leases_carry_their_cancel_request_flags()
    {
        var (tenant, job) = await TenantWithJobAsync();
        await SubmitAsync(tenant, job);
        await SubmitAsync(tenant, job);
        var claims = await ClaimAsync(tenant, limit: 2);
        Assert.Equal(2, claims.Count);
        Assert.Equal(ExecutionStatus.Running, (await Executions.CancelAsync(tenant, claims[1].ExecutionId, Ct))!.Status);
        await SetLeaseLeftAsync(claims[1].ExecutionId, 5);
        var aging = await LeaseExpiresAtAsync(claims[1].ExecutionId);

        var held = await Queue.HeartbeatAsync([.. claims.Select(c => new AttemptLease(c.ExecutionId, c.LeaseToken))], Lease, Ct);

        Assert.Equal(2, held.Count);
        Assert.False(held.Single(h => h.Id == claims[0].ExecutionId).CancelRequested);
        var cancelled = held.Single(h => h.Id == claims[1].ExecutionId);
        Assert.True(cancelled.CancelRequested);
        // The lease of a cancelled attempt is still extended: its worker needs time to stop and report.
        Assert.True(cancelled.ExpiresAt.UtcDateTime > aging);
        Assert.Equal(await LeaseExpiresAtAsync(cancelled.Id), cancelled.ExpiresAt.UtcDateTime);
        Assert.Equal(ExecutionStatus.Running, await StatusAsync(claims[1].ExecutionId));
    }
}
