using Jobplane.Api;
using Jobplane.Store;
using Jobplane.Testing;

namespace Jobplane.Store.Tests;

public sealed class JobStoreTests(TestDatabase db) : StoreTestBase(db), IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Upserting_the_same_name_updates_the_job_in_place()
    {
        var tenant = await NewTenantAsync();
        var first = await Jobs.UpsertAsync(tenant, Spec("nightly", priority: 10, maxAttempts: 2, timeout: 30, image: "alpine:3"), Ct);

        var second = await Jobs.UpsertAsync(tenant,
            new JobSpec("nightly", "busybox:1", ["sh", "-c", "exit 0"], 90, Priority.Critical, 5), Ct);

        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.Equal(first.JobId, second.JobId);
        var job = await Jobs.GetAsync(tenant, first.JobId, Ct);
        Assert.NotNull(job);
        Assert.Equal("nightly", job.Name);
        Assert.Equal("busybox:1", job.Image);
        Assert.Equal(["sh", "-c", "exit 0"], job.Command);
        Assert.Equal(90, job.TimeoutSeconds);
        Assert.Equal(Priority.Critical, job.Priority);
        Assert.Equal(5, job.MaxAttempts);
        Assert.True(job.UpdatedAt >= job.CreatedAt);
        Assert.Equal(1L, await Db.ScalarAsync<long>("select count(*) from jobs where tenant_id = $1", tenant));
    }

    [Fact]
    public async Task Resources_and_network_round_trip_and_an_update_replaces_them()
    {
        var tenant = await NewTenantAsync();
        await Tenants.UpdateAsync(tenant, new TenantSettings { AllowNetwork = true }, Ct);
        var spec = Spec("sized") with { MemoryLimitBytes = 32L << 20, CpuLimit = 0.25, PidsLimit = 20, Network = true };

        var created = await Jobs.UpsertAsync(tenant, spec, Ct);

        var job = (await Jobs.GetAsync(tenant, created.JobId, Ct))!;
        Assert.Equal(new ResourceRequest(MemoryMib: 32, Cpus: 0.25, Pids: 20), job.Resources);
        Assert.True(job.Network);
        var listed = Assert.Single(await Jobs.ListAsync(tenant, 10, 0, Ct));
        Assert.Equal(job.Resources, listed.Resources);
        Assert.True(listed.Network);

        await Jobs.UpsertAsync(tenant, Spec("sized") with { CpuLimit = 2 }, Ct);
        var updated = (await Jobs.GetAsync(tenant, created.JobId, Ct))!;
        Assert.Equal(new ResourceRequest(Cpus: 2), updated.Resources);
        Assert.False(updated.Network);

        await Jobs.UpsertAsync(tenant, Spec("sized"), Ct);
        Assert.Null((await Jobs.GetAsync(tenant, created.JobId, Ct))!.Resources);
    }

    [Fact]
    public async Task A_job_asking_for_network_is_not_written_unless_its_tenant_allows_network()
    {
        var closed = await NewTenantAsync();
        var open = await NewTenantAsync();
        await Tenants.UpdateAsync(open, new TenantSettings { AllowNetwork = true }, Ct);
        var existing = await Jobs.UpsertAsync(closed, Spec("fetch") with { PidsLimit = 5 }, Ct);

        await Assert.ThrowsAsync<NetworkNotAllowedException>(() => Jobs.UpsertAsync(closed, Spec("fetch") with { Network = true }, Ct));
        await Assert.ThrowsAsync<NetworkNotAllowedException>(() => Jobs.UpsertAsync(closed, Spec("other") with { Network = true }, Ct));

        // Nothing written: the existing job is as it was, and no other appeared.
        var job = Assert.Single(await Jobs.ListAsync(closed, 10, 0, Ct));
        Assert.Equal(existing.JobId, job.Id);
        Assert.Equal(new ResourceRequest(Pids: 5), job.Resources);
        Assert.False(job.Network);
        // Another tenant's permission is not this tenant's.
        Assert.True((await Jobs.UpsertAsync(open, Spec("fetch") with { Network = true }, Ct)).Created);
    }

    [Fact]
    public async Task Run_as_root_round_trips_without_any_tenant_permission_and_an_update_replaces_it()
    {
        // A tenant with nothing allowed: the worker's operator, not the tenant, decides about root.
        var tenant = await NewTenantAsync();

        var created = await Jobs.UpsertAsync(tenant, Spec("rooted") with { RunAsRoot = true }, Ct);

        Assert.True(created.Created);
        Assert.True((await Jobs.GetAsync(tenant, created.JobId, Ct))!.RunAsRoot);
        Assert.True(Assert.Single(await Jobs.ListAsync(tenant, 10, 0, Ct)).RunAsRoot);

        await Jobs.UpsertAsync(tenant, Spec("rooted"), Ct);
        Assert.False((await Jobs.GetAsync(tenant, created.JobId, Ct))!.RunAsRoot);
        Assert.False(await Db.ScalarAsync<bool>("select run_as_root from jobs where id = $1", created.JobId));
    }

    [Fact]
    public async Task The_database_refuses_resources_out_of_bounds()
    {
        var tenant = await NewTenantAsync();

        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Jobs.UpsertAsync(tenant, Spec() with { MemoryLimitBytes = 1L << 20 }, Ct));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Jobs.UpsertAsync(tenant, Spec() with { CpuLimit = 0 }, Ct));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => Jobs.UpsertAsync(tenant, Spec() with { PidsLimit = 0 }, Ct));
        Assert.Empty(await Jobs.ListAsync(tenant, 10, 0, Ct));
    }

    [Fact]
    public async Task The_same_name_in_another_tenant_is_another_job()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();

        var jobA = await Jobs.UpsertAsync(a, Spec("deploy", image: "a:1"), Ct);
        var jobB = await Jobs.UpsertAsync(b, Spec("deploy", image: "b:1"), Ct);

        Assert.True(jobA.Created);
        Assert.True(jobB.Created);
        Assert.NotEqual(jobA.JobId, jobB.JobId);
        Assert.Equal("a:1", (await Jobs.GetAsync(a, jobA.JobId, Ct))!.Image);
        Assert.Equal("b:1", (await Jobs.GetAsync(b, jobB.JobId, Ct))!.Image);
    }

    [Fact]
    public async Task Another_tenants_job_is_invisible()
    {
        var owner = await NewTenantAsync();
        var stranger = await NewTenantAsync();
        var job = await NewJobAsync(owner);

        Assert.Null(await Jobs.GetAsync(stranger, job, Ct));
        Assert.Null(await Jobs.GetAsync(owner, Guid.NewGuid(), Ct));
        Assert.Empty(await Jobs.ListAsync(stranger, 100, 0, Ct));
    }

    [Fact]
    public async Task List_pages_newest_first()
    {
        var tenant = await NewTenantAsync();
        var other = await NewTenantAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await NewJobAsync(tenant, name: $"job-{i}"));
            await NewJobAsync(other, name: $"job-{i}");
        }
        ids.Reverse();

        var page1 = await Jobs.ListAsync(tenant, 2, 0, Ct);
        var page2 = await Jobs.ListAsync(tenant, 2, 2, Ct);
        var page3 = await Jobs.ListAsync(tenant, 2, 4, Ct);
        var page4 = await Jobs.ListAsync(tenant, 2, 6, Ct);

        Assert.Equal(ids[..2], page1.Select(j => j.Id));
        Assert.Equal(ids[2..4], page2.Select(j => j.Id));
        Assert.Equal(ids[4..], page3.Select(j => j.Id));
        Assert.Empty(page4);
        Assert.Equal(["job-4", "job-3"], page1.Select(j => j.Name));
    }
}
