using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

/// <summary>A claim hands a worker only executions it can run: its runtime class, and requests it can grant.</summary>
public sealed class RoutingTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    private static readonly WorkerGrants ExecWorker = new() { Classes = [RuntimeClasses.Exec] };
    private static readonly WorkerGrants DockerWorker = new()
    {
        Classes = [RuntimeClasses.Container],
        Network = false,
        RunAsRoot = false,
        MaxMemoryMib = 512,
        MaxCpus = 1,
        MaxPids = 256,
    };

    private Task<IReadOnlyList<ClaimedAttempt>> ClaimAsync(Guid[] tenants, WorkerGrants grants, int limit = 10) =>
        Queue.ClaimAsync(limit, "worker-r", tenants, Lease, Ct, grants: grants);

    private async Task<Guid> SubmitJobAsync(Guid tenant, JobSpec spec, int? priority = null) =>
        await SubmitAsync(tenant, (await Jobs.UpsertAsync(tenant, spec, Ct)).JobId, priority);

    [Fact]
    public async Task An_exec_worker_never_claims_a_container_job_and_a_container_worker_never_an_exec_job()
    {
        var tenant = await NewTenantAsync();
        var container = await SubmitJobAsync(tenant, Spec(image: "alpine:3"));
        var exec = await SubmitJobAsync(tenant, Spec(image: "exec"));

        var byExec = await ClaimAsync([tenant], ExecWorker);
        Assert.Equal([exec], byExec.Select(c => c.ExecutionId));
        Assert.Empty(await ClaimAsync([tenant], ExecWorker));

        var byDocker = await ClaimAsync([tenant], DockerWorker);
        Assert.Equal([container], byDocker.Select(c => c.ExecutionId));
        Assert.Equal("alpine:3", byDocker[0].Payload.Image);
    }

    [Fact]
    public async Task A_worker_naming_no_runtime_claims_both_classes()
    {
        var tenant = await NewTenantAsync();
        var container = await SubmitJobAsync(tenant, Spec(image: "alpine:3"));
        var exec = await SubmitJobAsync(tenant, Spec(image: "exec"));
        var claimed = await ClaimAsync([tenant], WorkerGrants.Any);
        Assert.Equal(new HashSet<Guid> { container, exec }, claimed.Select(c => c.ExecutionId).ToHashSet());
    }

    [Fact]
    public async Task A_backlog_of_container_jobs_ahead_does_not_stop_an_exec_worker_claiming_the_exec_job_behind_it()
    {
        var tenant = await NewTenantAsync();
        var containerJob = (await Jobs.UpsertAsync(tenant, Spec(image: "alpine:3"), Ct)).JobId;
        var backlog = await Executions.RunManyAsync(tenant, containerJob, 500, new RunOptions(null, null, Priority.Critical), Ct);
        Assert.NotNull(backlog);
        var exec = await SubmitJobAsync(tenant, Spec(image: "exec"), priority: 0);

        // Tenants whose ready work is all of the other class are passed over, not counted among the 64 candidates.
        var others = new List<Guid>();
        for (var i = 0; i < 70; i++)
        {
            var other = await NewTenantAsync();
            await SubmitJobAsync(other, Spec(image: "alpine:3"));
            others.Add(other);
        }
        // Make the container-only tenants the most deserving ones: the lowest virtual time.
        await ExecAsync("update tenant_sched set vtime = -1 where tenant_id = any($1)", others.ToArray());

        var claimed = await ClaimAsync([.. others, tenant], ExecWorker, limit: 1);
        Assert.Equal([exec], claimed.Select(c => c.ExecutionId));
        Assert.Equal(570L, await Db.ScalarAsync<long>(
            "select count(*) from ready_queue where tenant_id = any($1) and runtime_class = 'container'", (Guid[])[.. others, tenant]));
    }

    [Fact]
    public async Task A_job_asking_for_network_waits_for_a_worker_that_grants_it()
    {
        var tenant = await NewTenantAsync();
        await ExecAsync("update tenants set allow_network = true where id = $1", tenant);
        var id = await SubmitJobAsync(tenant, Spec() with { Network = true });

        Assert.Empty(await ClaimAsync([tenant], DockerWorker));
        var claimed = Assert.Single(await ClaimAsync([tenant], DockerWorker with { Network = true }));
        Assert.Equal(id, claimed.ExecutionId);
        Assert.True(claimed.Payload.Network);
    }

    [Fact]
    public async Task A_job_whose_tenant_lost_network_needs_no_worker_that_grants_it()
    {
        var tenant = await NewTenantAsync();
        await ExecAsync("update tenants set allow_network = true where id = $1", tenant);
        var id = await SubmitJobAsync(tenant, Spec() with { Network = true });
        await ExecAsync("update tenants set allow_network = false where id = $1", tenant);

        var claimed = Assert.Single(await ClaimAsync([tenant], DockerWorker));
        Assert.Equal(id, claimed.ExecutionId);
        Assert.False(claimed.Payload.Network);
    }

    [Fact]
    public async Task A_job_asking_for_root_waits_for_a_worker_that_allows_it()
    {
        var tenant = await NewTenantAsync();
        var id = await SubmitJobAsync(tenant, Spec() with { RunAsRoot = true });

        Assert.Empty(await ClaimAsync([tenant], DockerWorker));
        Assert.Equal(id, Assert.Single(await ClaimAsync([tenant], DockerWorker with { RunAsRoot = true })).ExecutionId);
    }

    [Theory]
    [InlineData(2048L << 20, null, null)]
    [InlineData(null, 2.0, null)]
    [InlineData(null, null, 1000L)]
    public async Task A_job_asking_for_more_resources_than_a_worker_grants_waits_for_one_that_grants_them(long? memory, double? cpus, long? pids)
    {
        var tenant = await NewTenantAsync();
        var id = await SubmitJobAsync(tenant, Spec() with { MemoryLimitBytes = memory, CpuLimit = cpus, PidsLimit = pids });

        Assert.Empty(await ClaimAsync([tenant], DockerWorker));
        var big = DockerWorker with { MaxMemoryMib = 4096, MaxCpus = 4, MaxPids = 4096 };
        Assert.Equal(id, Assert.Single(await ClaimAsync([tenant], big)).ExecutionId);
    }

    [Fact]
    public async Task A_request_within_the_workers_maximums_is_claimed()
    {
        var tenant = await NewTenantAsync();
        var id = await SubmitJobAsync(tenant, Spec() with { MemoryLimitBytes = 512L << 20, CpuLimit = 1, PidsLimit = 256 });
        Assert.Equal(id, Assert.Single(await ClaimAsync([tenant], DockerWorker)).ExecutionId);
    }

    [Fact]
    public async Task A_released_or_rescued_execution_keeps_its_class()
    {
        var tenant = await NewTenantAsync();
        var id = await SubmitJobAsync(tenant, Spec(image: "exec"));
        var claim = Assert.Single(await ClaimAsync([tenant], ExecWorker));
        Assert.Equal(LeaseCheck.Accepted, await Queue.ReleaseAsync(id, claim.LeaseToken, "draining", Ct));
        Assert.Empty(await ClaimAsync([tenant], DockerWorker));

        claim = Assert.Single(await ClaimAsync([tenant], ExecWorker));
        await ExpireLeaseAsync(id);
        Assert.True(await Queue.RescueExpiredAsync(1000, Ct) >= 1);
        Assert.Empty(await ClaimAsync([tenant], DockerWorker));
        Assert.Equal(id, Assert.Single(await ClaimAsync([tenant], ExecWorker)).ExecutionId);
    }

    [Fact]
    public async Task A_due_scheduled_run_is_queued_with_its_class()
    {
        var tenant = await NewTenantAsync();
        var id = await SubmitJobAsync(tenant, Spec(image: "exec"));
        // Re-queue it as a scheduled run that is due, as promotion finds it.
        Assert.Single(await ClaimAsync([tenant], ExecWorker));
        await ExecAsync("update executions set status = 'SCHEDULED', lease_token = null, scheduled_at = now() - interval '1 second' where id = $1", id);
        Assert.True(await Queue.PromoteDueAsync(1000, Ct) >= 1);
        Assert.Equal("exec", await Db.ScalarAsync<string>("select runtime_class from ready_queue where execution_id = $1", id));
    }
}
