using System.Net.Http.Json;
using Jobplane.Api;
using Jobplane.Testing;
using Jobplane.Worker.Runtimes.Noop;

namespace Jobplane.Worker.Tests.Agent;

/// <summary>
/// The noop runtime (a benchmarking tool) through the real agent and controller: an execution
/// succeeds without anything being started, and a tenant restricted to some runtimes is never
/// served by it.
/// </summary>
public sealed class NoopRuntimeTests : IAsyncLifetime
{
    private readonly ControllerHost _host = new();
    private AgentHarness _agent = null!;

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        _agent = await AgentHarness.StartAsync(_host, runtime: _ => new NoopRuntime());
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task Succeeds_at_once_without_running_the_command()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"noop-{Guid.NewGuid():N}");
        var id = await _agent.SubmitAsync("noop", ["touch", marker]);
        var done = await _agent.WaitForAsync(id, e => ExecutionStatus.IsTerminal(e.Status));
        Assert.Equal(ExecutionStatus.Succeeded, done.Status);
        Assert.Equal(0, done.ExitCode);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task Announces_its_slots_though_its_runtime_announces_no_capabilities()
    {
        // The slots (WORKER_CONCURRENCY, 4 here) size the fleet every tenant's fair share is taken of.
        var id = await _agent.SubmitAsync("noop", ["true"]);
        await _agent.WaitForAsync(id, e => e.Status == ExecutionStatus.Succeeded);
        Assert.Equal(4, await _host.Database.ScalarAsync<int>("select slots from workers where worker_id like 'agent-%'"));
    }

    [Fact]
    public async Task Does_not_serve_a_tenant_restricted_to_some_runtimes()
    {
        var (tenant, client) = await _host.TenantClientAsync();
        using (client)
        {
            using var admin = _host.AdminClient();
            (await admin.PatchAsJsonAsync(Routes.Of(Routes.Tenant, tenant.TenantId), new TenantRequest { AllowedRuntimes = ["exec"] },
                JobplaneJsonContext.Default.TenantRequest)).EnsureSuccessStatusCode();
            var job = await client.PostAsJsonAsync(Routes.Jobs, new CreateJobRequest { Name = "exec-only", Image = "exec", Command = ["true"] },
                JobplaneJsonContext.Default.CreateJobRequest);
            var jobId = (await job.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.CreateJobResponse))!.JobId;
            var run = await client.PostAsync(new Uri(Routes.Of(Routes.JobRun, jobId), UriKind.Relative), null);
            var executionId = (await run.Content.ReadFromJsonAsync(JobplaneJsonContext.Default.RunJobResponse))!.ExecutionId;

            // The unrestricted tenant's execution is served meanwhile, so the agent is claiming.
            var served = await _agent.SubmitAsync("noop", ["true"]);
            await _agent.WaitForAsync(served, e => e.Status == ExecutionStatus.Succeeded);
            await Task.Delay(500);
            var view = (await client.GetFromJsonAsync(Routes.Of(Routes.Execution, executionId), JobplaneJsonContext.Default.ExecutionView))!;
            Assert.Equal(ExecutionStatus.Pending, view.Status);
        }
    }
}
