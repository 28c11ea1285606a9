using System.Net;
using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Testing;

namespace Jobplane.Controller.Tests;

/// <summary>A controller with the operator's default runtimes for new tenants (TENANT_DEFAULT_RUNTIMES unset).</summary>
public sealed class DefaultRuntimesFixture : IAsyncLifetime
{
    public ControllerHost Host { get; } = new(new Dictionary<string, string?> { ["TENANT_DEFAULT_RUNTIMES"] = null });

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();
}

/// <summary>Jobs go only where they can run; a job that cannot run anywhere now says what it waits for.</summary>
public sealed class RoutingTests(DefaultRuntimesFixture fixture) : IClassFixture<DefaultRuntimesFixture>
{
    private readonly ControllerHost _host = fixture.Host;

    private static async Task<Guid> CreateJobAsync(HttpClient tenant, string image, string extra = "")
    {
        var response = await tenant.PostAsync("/jobs", Api.RawJson(
            $$"""{"name": "job-{{Guid.NewGuid():N}}", "image": "{{image}}", "command": ["echo", "hi"]{{extra}}}"""));
        return (await Api.ReadAsync(response, Api.Json.CreateJobResponse, HttpStatusCode.Created)).JobId;
    }

    private static async Task<HttpResponseMessage> DequeueAsync(HttpClient worker, Guid tenant, string worker_id, string runtime,
        WorkerCapabilities? capabilities, int limit = 1) =>
        await worker.PostAsJsonAsync("/internal/executions/dequeue",
            new DequeueRequest { Limit = limit, TenantIds = [tenant], WorkerId = worker_id, Runtime = runtime, Capabilities = capabilities },
            Api.Json.DequeueRequest);

    private static async Task<IReadOnlyList<ClaimedExecution>> ClaimAsync(HttpClient worker, Guid tenant, string workerId, string runtime,
        WorkerCapabilities? capabilities = null, int limit = 1) =>
        (await Api.ReadAsync(await DequeueAsync(worker, tenant, workerId, runtime, capabilities, limit), Api.Json.DequeueResponse)).Executions;

    private static readonly WorkerCapabilities NoNetworkDocker = new()
    {
        RuntimeClasses = ["container"],
        Network = false,
        RunAsRoot = false,
        MaxMemoryMib = 512,
        MaxCpus = 1,
        MaxPids = 256,
    };

    [Fact]
    public async Task A_new_tenant_cannot_create_an_exec_job_until_an_administrator_allows_exec()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using var response = await client.PostAsync("/jobs", Api.RawJson("""{"name": "on-host", "image": "exec", "command": ["true"]}"""));
        var error = await Api.AssertErrorAsync(response, HttpStatusCode.Forbidden, ErrorCodes.RuntimeNotAllowed);
        Assert.Contains("exec", error.Error, StringComparison.Ordinal);
        Assert.Equal(0L, await _host.Database.ScalarAsync<long>("select count(*) from jobs where tenant_id = $1", tenant.TenantId));

        // Container images are the default's business.
        await CreateJobAsync(client, "alpine:3");

        using var admin = _host.AdminClient();
        using var patch = await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"allowed_runtimes": ["exec", "docker"]}"""));
        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        await CreateJobAsync(client, "exec");
    }

    [Fact]
    public async Task An_exec_worker_is_never_handed_a_container_job_nor_a_docker_worker_an_exec_job()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        using var admin = _host.AdminClient();
        (await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"allowed_runtimes": ["exec", "docker"]}"""))).Dispose();
        var container = (await Api.RunAsync(client, await CreateJobAsync(client, "alpine:3"))).ExecutionId;
        var exec = (await Api.RunAsync(client, await CreateJobAsync(client, "exec"))).ExecutionId;

        // An older worker: runtime named, no capabilities: its runtime's class.
        Assert.Equal(exec, Assert.Single(await ClaimAsync(worker, tenant.TenantId, "old-exec", "exec", limit: 5)).ExecutionId);
        Assert.Equal(container, Assert.Single(await ClaimAsync(worker, tenant.TenantId, "old-docker", "docker", limit: 5)).ExecutionId);
    }

    [Fact]
    public async Task A_pending_execution_says_what_it_waits_for_until_a_worker_that_fits_announces_itself()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        using var admin = _host.AdminClient();
        (await admin.PatchAsync($"/tenants/{tenant.TenantId}", Api.RawJson("""{"allow_network": true}"""))).Dispose();
        var job = await CreateJobAsync(client, "alpine:3", """, "network": true""");
        var first = (await Api.RunAsync(client, job)).ExecutionId;
        var second = (await Api.RunAsync(client, job)).ExecutionId;

        var view = await Api.GetExecutionAsync(client, first);
        Assert.Equal(ExecutionStatus.Pending, view.Status);
        Assert.Equal("a worker with a container runtime (no connected worker has one)", view.WaitingFor);

        // A docker worker without network: not handed the job, which now waits for network.
        Assert.Empty(await ClaimAsync(worker, tenant.TenantId, $"nonet-{Guid.NewGuid():N}", "docker", NoNetworkDocker));
        Assert.Equal("a worker that grants network", (await Api.GetExecutionAsync(client, first)).WaitingFor);

        // One that grants network takes one of them; the other still waits, but no longer for a worker that fits.
        var claimed = Assert.Single(await ClaimAsync(worker, tenant.TenantId, $"net-{Guid.NewGuid():N}", "docker",
            NoNetworkDocker with { Network = true }));
        Assert.Equal(first, claimed.ExecutionId);
        Assert.True(claimed.Payload.Network);
        var waiting = await Api.GetExecutionAsync(client, second);
        Assert.Equal(ExecutionStatus.Pending, waiting.Status);
        Assert.Null(waiting.WaitingFor);
        Assert.DoesNotContain("waiting_for", await client.GetStringAsync($"/executions/{second}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_busy_worker_that_only_heartbeats_still_counts_as_connected()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var job = await CreateJobAsync(client, "alpine:3");
        var running = (await Api.RunAsync(client, job)).ExecutionId;
        var queued = (await Api.RunAsync(client, job)).ExecutionId;
        var workerId = $"busy-{Guid.NewGuid():N}";
        var claimed = Assert.Single(await ClaimAsync(worker, tenant.TenantId, workerId, "docker", NoNetworkDocker));
        Assert.Equal(running, claimed.ExecutionId);
        Assert.Null((await Api.GetExecutionAsync(client, queued)).WaitingFor);

        // All its slots busy, it has not dequeued for two minutes: by its dequeues alone it looks gone.
        await _host.Database.ScalarAsync<int>(
            "with aged as (update workers set seen_at = now() - interval '2 minutes' where worker_id = $1 returning 1) select count(*)::int from aged", workerId);
        Assert.Equal("a worker with a container runtime (no connected worker has one)", (await Api.GetExecutionAsync(client, queued)).WaitingFor);

        // Its heartbeat says it is still there, with what it announced.
        var heartbeat = await worker.PostAsync("/internal/heartbeats", Api.RawJson(
            $$"""{"worker_id": "{{workerId}}", "leases": [{"execution_id": "{{claimed.ExecutionId}}", "lease_token": "{{claimed.LeaseToken}}"}]}"""));
        Assert.Equal(HttpStatusCode.OK, heartbeat.StatusCode);
        Assert.Null((await Api.GetExecutionAsync(client, queued)).WaitingFor);
    }

    [Fact]
    public async Task A_job_asking_for_more_memory_than_a_worker_grants_says_so_and_waits_for_one_that_does()
    {
        using var worker = _host.WorkerClient();
        var (tenant, client) = await _host.TenantClientAsync();
        var job = await CreateJobAsync(client, "alpine:3", """, "resources": {"memory_mib": 2048}""");
        var id = (await Api.RunAsync(client, job)).ExecutionId;

        Assert.Empty(await ClaimAsync(worker, tenant.TenantId, $"small-{Guid.NewGuid():N}", "docker", NoNetworkDocker));
        Assert.Equal("a worker that grants 2048 MiB of memory", (await Api.GetExecutionAsync(client, id)).WaitingFor);
        Assert.Equal(id, Assert.Single(await ClaimAsync(worker, tenant.TenantId, $"big-{Guid.NewGuid():N}", "docker",
            NoNetworkDocker with { MaxMemoryMib = 4096 })).ExecutionId);
    }

    [Theory]
    [InlineData("""{"runtime_classes": ["gpu"]}""", "capabilities.runtime_classes")]
    [InlineData("""{"runtime_classes": []}""", "capabilities.runtime_classes")]
    [InlineData("""{"runtime_classes": ["container"]}""", "capabilities.runtime_classes")]
    [InlineData("""{"max_memory_mib": 0}""", "capabilities.max_memory_mib")]
    [InlineData("""{"max_cpus": 5000}""", "capabilities.max_cpus")]
    [InlineData("""{"max_pids": -1}""", "capabilities.max_pids")]
    [InlineData("""{"slots": 0}""", "capabilities.slots")]
    [InlineData("""{"slots": -4}""", "capabilities.slots")]
    [InlineData("""{"slots": 100001}""", "capabilities.slots")]
    [InlineData("""{"slots": 2.5}""", "capabilities.slots")]
    public async Task A_bad_announcement_is_refused_naming_the_field(string capabilities, string field)
    {
        using var worker = _host.WorkerClient();
        var tenant = await _host.CreateTenantAsync();
        using var response = await worker.PostAsync("/internal/executions/dequeue", Api.RawJson(
            $$"""{"limit": 1, "runtime": "exec", "tenant_ids": ["{{tenant.TenantId}}"], "capabilities": {{capabilities}}}"""));
        var error = await Api.AssertErrorAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(field, error.Error, StringComparison.Ordinal);
    }
}
