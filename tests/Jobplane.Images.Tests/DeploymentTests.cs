using Jobplane.Api;
using Jobplane.Client;
using Jobplane.Store;

namespace Jobplane.ImagesTests;

/// <summary>
/// The image deployed: a controller container that migrates its database and serves, and a worker
/// container that runs a job end to end against it, both as the image's non-root user on a
/// read-only root filesystem.
/// </summary>
public sealed class DeploymentTests(ControllerContainer controller) : IClassFixture<ControllerContainer>, IDisposable
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    private readonly HttpClient _http = new();

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Controller_container_migrates_its_database_and_answers_ready()
    {
        var admin = new JobplaneClient(_http, controller.Url, ControllerContainer.AdminSecret);

        var ready = await admin.GetReadinessAsync(CancellationToken.None);
        var applied = await controller.Database.AppliedMigrationsAsync();

        Assert.Equal("ready", ready.Value.Status);
        Assert.Equal(Migrator.Embedded.Select(m => m.Version).Order(), applied);
        Assert.Equal("true", await controller.Container.InspectAsync("{{.HostConfig.ReadonlyRootfs}}"));
        Assert.Equal(await ImageUnderTest.ConfiguredUserAsync(), await controller.Container.InspectAsync("{{.Config.User}}"));
    }

    [Fact]
    public async Task Worker_container_runs_a_job_end_to_end_with_its_log_and_result_stored()
    {
        var admin = new JobplaneClient(_http, controller.Url, ControllerContainer.AdminSecret);
        var tenant = (await admin.CreateTenantAsync(
            new TenantRequest { Name = $"images-{Guid.NewGuid():N}", AllowedRuntimes = ["exec"] }, CancellationToken.None)).Value;
        var client = new JobplaneClient(_http, controller.Url, tenant.ApiKey);
        await using var worker = await StartExecWorkerAsync($"images-worker-{Guid.NewGuid():N}"[..24]);

        var marker = $"hello from the worker image {Guid.NewGuid():N}";
        var job = (await client.CreateJobAsync(new CreateJobRequest
        {
            Name = "image-end-to-end",
            Image = "exec",
            // The job writes result.json in its working directory, inside the worker's tmpfs work root.
            Command = ["sh", "-c", $"echo '{marker}'; printf '{{\"answer\": 42}}' > result.json"],
            MaxAttempts = 1,
        }, CancellationToken.None)).Value;
        var run = (await client.RunJobAsync(job.JobId, new RunJobRequest(), null, CancellationToken.None)).Value;

        var execution = await WaitForEndAsync(client, run.ExecutionId, worker);
        var logs = (await client.GetLogsAsync(run.ExecutionId, 0, 100, CancellationToken.None)).Value.Logs;
        var attempts = (await client.GetAttemptsAsync(run.ExecutionId, CancellationToken.None)).Value;

        Assert.True(execution.Status == ExecutionStatus.Succeeded,
            $"execution ended {execution.Status} ({execution.Error}); worker said:\n{await worker.LogsAsync()}");
        Assert.Equal(0, execution.ExitCode);
        Assert.Contains(logs, l => l.Content.TrimEnd('\n') == marker);
        Assert.NotNull(execution.Result);
        Assert.Equal(42, execution.Result.Value.GetProperty("answer").GetInt32());
        // The controller and its database are this class's own: the worker container is the only
        // worker that could have run it (tenants see workers under an alias, not their ids).
        Assert.Equal(0, Assert.Single(attempts).ExitCode);
    }

    /// <summary>
    /// An exec worker from the image, beside the controller on the host's network: read-only root, a
    /// tmpfs /tmp, and its work root a tmpfs owned by the image's user (a container cannot mount a
    /// bounded tmpfs per attempt, so the whole work root is the bound). Non-root, it runs jobs as
    /// its own user, which it must be told to accept.
    /// </summary>
    private async Task<Container> StartExecWorkerAsync(string workerId)
    {
        var uid = (await ImageUnderTest.ConfiguredUserAsync()).Split(':')[0];
        return await Container.StartAsync(
            "worker",
            [
                "--network", "host", "--read-only", "--tmpfs", "/tmp:size=64m",
                "--tmpfs", $"/var/lib/jobplane/work:size=256m,mode=0700,uid={uid},gid={uid}",
            ],
            new Dictionary<string, string>
            {
                ["CONTROLLER_URL"] = controller.Url.AbsoluteUri,
                ["WORKER_TOKEN"] = ControllerContainer.WorkerToken,
                ["WORKER_ID"] = workerId,
                ["RUNTIME"] = "exec",
                ["RUNTIME_WORKDIR"] = "/var/lib/jobplane/work",
                ["EXEC_RUN_AS_WORKER_USER"] = "true",
                ["EXEC_WORKDIR_MAX_BYTES"] = "0",
                ["WORKER_CONCURRENCY"] = "2",
                ["WORKER_HEARTBEAT_INTERVAL"] = "1s",
                // Host network: two workers of two test runs must not fight over one metrics port.
                ["WORKER_METRICS_PORT"] = "0",
            },
            entrypoint: "jobplane-worker");
    }

    private static async Task<ExecutionView> WaitForEndAsync(JobplaneClient client, Guid executionId, Container worker)
    {
        using var deadline = new CancellationTokenSource(JobTimeout);
        ExecutionView execution;
        do
        {
            execution = (await client.GetExecutionAsync(executionId, CancellationToken.None)).Value;
            if (ExecutionStatus.IsTerminal(execution.Status)) return execution;
            if (!await worker.IsRunningAsync())
                throw new InvalidOperationException($"the worker container stopped with execution {executionId} {execution.Status}:\n{await worker.LogsAsync()}");
            await Task.Delay(200, CancellationToken.None);
        } while (!deadline.IsCancellationRequested);
        throw new TimeoutException(
            $"execution {executionId} still {execution.Status} after {JobTimeout.TotalSeconds:0}s; worker said:\n{await worker.LogsAsync()}");
    }
}
