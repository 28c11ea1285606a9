using System.Collections.Concurrent;
using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class ClaimTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Concurrent_claimers_claim_every_execution_exactly_once()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var submitted = new HashSet<Guid>();
        for (var i = 0; i < 200; i++) submitted.Add(await SubmitAsync(tenant, job, priority: i % 5 * 20));

        var claims = new ConcurrentBag<ClaimedAttempt>();
        var claimers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            while (true)
            {
                var batch = await Queue.ClaimAsync(7, $"worker-{w}", [tenant], Lease, Ct);
                if (batch.Count == 0) return;
                Assert.True(batch.Count <= 7);
                foreach (var c in batch) claims.Add(c);
            }
        })).ToList();
        await Task.WhenAll(claimers);

        var ids = claims.Select(c => c.ExecutionId).ToList();
        Assert.Equal(200, ids.Count);
        Assert.Equal(200, ids.Distinct().Count());
        Assert.True(submitted.SetEquals(ids));
        Assert.Equal(200, claims.Select(c => c.LeaseToken).Distinct().Count());
        Assert.All(claims, c => Assert.Equal(1, c.Attempt));
        Assert.Empty(await ClaimAsync(tenant));
        Assert.Equal(200L, await Db.ScalarAsync<long>(
            "select count(*) from executions where tenant_id = $1 and status = 'RUNNING' and attempt = 1", tenant));
        Assert.Equal(200L, await Db.ScalarAsync<long>(
            "select count(*) from execution_attempts a join executions e on e.id = a.execution_id where e.tenant_id = $1", tenant));
    }

    [Fact]
    public async Task Higher_priority_is_claimed_first_and_equal_priorities_in_submission_order()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var low = await SubmitAsync(tenant, job, priority: 0);
        var normal1 = await SubmitAsync(tenant, job, priority: 50);
        var critical = await SubmitAsync(tenant, job, priority: 100);
        var normal2 = await SubmitAsync(tenant, job, priority: 50);
        var normal3 = await SubmitAsync(tenant, job, priority: 50);

        var order = new List<Guid>();
        for (var i = 0; i < 5; i++) order.Add((await ClaimOneAsync(tenant)).ExecutionId);

        Assert.Equal([critical, normal1, normal2, normal3, low], order);
    }

    [Fact]
    public async Task A_batch_takes_the_most_urgent_work()
    {
        var (tenant, job) = await TenantWithJobAsync();
        var p0 = await SubmitAsync(tenant, job, priority: 0);
        var p50 = await SubmitAsync(tenant, job, priority: 50);
        var p100 = await SubmitAsync(tenant, job, priority: 100);
        var p75 = await SubmitAsync(tenant, job, priority: 75);

        var batch = await ClaimAsync(tenant, limit: 2);

        Assert.Equal([p100, p75], batch.Select(c => c.ExecutionId));
        Assert.Equal([p50, p0], (await ClaimAsync(tenant, limit: 2)).Select(c => c.ExecutionId));
    }

    [Fact]
    public async Task A_claim_starts_attempt_one_and_records_it()
    {
        var tenant = await NewTenantAsync();
        var job = (await Jobs.UpsertAsync(tenant, new JobSpec("report", "alpine:3.20", ["sh", "-c", "echo hi"], 45, Priority.High, 4), Ct)).JobId;
        var id = await SubmitAsync(tenant, job);

        var claim = await ClaimOneAsync(tenant, worker: "worker-a");

        Assert.Equal(id, claim.ExecutionId);
        Assert.Equal(1, claim.Attempt);
        Assert.Equal(4, claim.MaxAttempts);
        Assert.NotEqual(Guid.Empty, claim.LeaseToken);
        Assert.Equal(job, claim.Payload.JobId);
        Assert.Equal(tenant, claim.Payload.TenantId);
        Assert.Equal("report", claim.Payload.JobName);
        Assert.Equal("alpine:3.20", claim.Payload.Image);
        Assert.Equal(["sh", "-c", "echo hi"], claim.Payload.Command);
        Assert.Equal(45, claim.Payload.TimeoutSeconds);
        Assert.Equal(Priority.High, claim.Payload.Priority);
        // The lease is decided by the database clock and lies ahead of it.
        Assert.True(await Db.ScalarAsync<bool>("select lease_expires_at > now() from executions where id = $1", id));

        Assert.Equal(ExecutionStatus.Running, await StatusAsync(id));
        Assert.False(await InReadyQueueAsync(id));
        Assert.Equal(claim.LeaseToken, await Db.ScalarAsync<Guid>("select lease_token from executions where id = $1", id));
        Assert.Equal(claim.LeaseToken, await Db.ScalarAsync<Guid>(
            "select lease_token from execution_attempts where execution_id = $1 and attempt = 1", id));
        Assert.Equal("worker-a", await Db.ScalarAsync<string>(
            "select worker_id from execution_attempts where execution_id = $1 and attempt = 1", id));

        var view = await Executions.GetAsync(tenant, id, Ct);
        Assert.Equal(ExecutionStatus.Running, view!.Status);
        Assert.Equal(1, view.Attempt);
        Assert.NotNull(view.StartedAt);
        var attempt = Assert.Single(view.Attempts!);
        Assert.Equal(1, attempt.Attempt);
        Assert.Equal("worker-a", attempt.WorkerId);
        Assert.Null(attempt.EndedAt);
    }

    [Fact]
    public async Task A_claim_hands_out_the_jobs_resources_and_network_only_while_the_tenant_allows_it()
    {
        var tenant = await NewTenantAsync();
        await Tenants.UpdateAsync(tenant, new TenantSettings { AllowNetwork = true }, Ct);
        var sized = (await Jobs.UpsertAsync(tenant, Spec("sized") with { MemoryLimitBytes = 48L << 20, Network = true }, Ct)).JobId;
        var plain = (await Jobs.UpsertAsync(tenant, Spec("plain"), Ct)).JobId;
        var first = await SubmitAsync(tenant, sized, priority: 90);
        await SubmitAsync(tenant, plain, priority: 10);

        var claims = await ClaimAsync(tenant, limit: 2);

        Assert.Equal(first, claims[0].ExecutionId);
        Assert.Equal(new ResourceRequest(MemoryMib: 48), claims[0].Payload.Resources);
        Assert.True(claims[0].Payload.Network);
        Assert.Null(claims[1].Payload.Resources);
        Assert.False(claims[1].Payload.Network);

        // Revoked: the job still asks, but a claim from now on grants no network.
        await Tenants.UpdateAsync(tenant, new TenantSettings { AllowNetwork = false }, Ct);
        await SubmitAsync(tenant, sized);
        var later = await ClaimOneAsync(tenant);
        Assert.Equal(new ResourceRequest(MemoryMib: 48), later.Payload.Resources);
        Assert.False(later.Payload.Network);
        Assert.True((await Jobs.GetAsync(tenant, sized, Ct))!.Network);
    }

    [Fact]
    public async Task A_claim_hands_out_the_jobs_request_to_run_as_root_as_it_is()
    {
        var tenant = await NewTenantAsync();
        var rooted = (await Jobs.UpsertAsync(tenant, Spec("rooted") with { RunAsRoot = true }, Ct)).JobId;
        var plain = (await Jobs.UpsertAsync(tenant, Spec("plain"), Ct)).JobId;
        var first = await SubmitAsync(tenant, rooted, priority: 90);
        await SubmitAsync(tenant, plain, priority: 10);

        var claims = await ClaimAsync(tenant, limit: 2);

        Assert.Equal(first, claims[0].ExecutionId);
        Assert.True(claims[0].Payload.RunAsRoot);
        Assert.False(claims[1].Payload.RunAsRoot);
    }

    [Fact]
    public async Task The_tenant_filter_claims_only_that_tenants_work()
    {
        var (a, jobA) = await TenantWithJobAsync();
        var (b, jobB) = await TenantWithJobAsync(priority: 100);
        var aIds = new List<Guid>();
        var bIds = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            aIds.Add(await SubmitAsync(a, jobA));
            bIds.Add(await SubmitAsync(b, jobB));
        }

        var claimed = await Queue.ClaimAsync(10, "worker-1", [a], Lease, Ct);

        Assert.Equal(aIds.Order(), claimed.Select(c => c.ExecutionId).Order());
        Assert.All(claimed, c => Assert.Equal(a, c.Payload.TenantId));
        foreach (var id in bIds) Assert.True(await InReadyQueueAsync(id));

        var both = await Queue.ClaimAsync(10, "worker-1", [a, b], Lease, Ct);
        Assert.Equal(bIds.Order(), both.Select(c => c.ExecutionId).Order());
    }

    [Fact]
    public async Task Without_a_tenant_filter_any_tenants_work_is_claimed()
    {
        var (a, jobA) = await TenantWithJobAsync();
        var (b, jobB) = await TenantWithJobAsync();
        var idA = await SubmitAsync(a, jobA);
        var idB = await SubmitAsync(b, jobB);

        var claimed = new List<Guid>();
        while (true)
        {
            var batch = await Queue.ClaimAsync(50, "worker-1", null, Lease, Ct);
            if (batch.Count == 0) break;
            claimed.AddRange(batch.Select(c => c.ExecutionId));
        }

        Assert.Contains(idA, claimed);
        Assert.Contains(idB, claimed);
    }

    [Fact]
    public async Task The_limit_is_respected()
    {
        var (tenant, job) = await TenantWithJobAsync();
        for (var i = 0; i < 5; i++) await SubmitAsync(tenant, job);

        Assert.Equal(3, (await ClaimAsync(tenant, limit: 3)).Count);
        Assert.Equal(2, (await ClaimAsync(tenant, limit: 3)).Count);
        Assert.Empty(await ClaimAsync(tenant, limit: 3));
        Assert.Equal(5L, await Db.ScalarAsync<long>("select count(*) from executions where tenant_id = $1 and status = 'RUNNING'", tenant));
    }
}
