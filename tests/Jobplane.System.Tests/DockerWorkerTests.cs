using System.Text.Json;
using Jobplane.Testing;

namespace Jobplane.SystemTests;

/// <summary>
/// A worker with RUNTIME=docker, as an operator starts it, running busybox jobs on a real Docker
/// Engine: results come back, memory limits and timeouts fail executions with their reasons, and
/// no container outlives its attempt.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class DockerWorkerTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly Platform _platform = new();

    public async Task InitializeAsync()
    {
        await _platform.InitializeAsync();
        await _platform.StartControllerAsync();
        _platform.StartWorker("docker-worker", new Dictionary<string, string?>
        {
            ["RUNTIME"] = "docker",
            ["DOCKER_HOST"] = TestDocker.Host,
            ["DOCKER_MEMORY_LIMIT"] = "32m",
        });
    }

    public Task DisposeAsync() => _platform.DisposeAsync();

    private async Task<string> SubmitAsync(string token, params string[] args)
    {
        var submit = await _platform.JobctlAsync(token, ["submit", "--image", TestDocker.Image, "--max-attempts", "1", "-o", "json", .. args]);
        Assert.True(submit.ExitCode == 0, submit.Stderr);
        using var doc = JsonDocument.Parse(submit.Stdout);
        return doc.RootElement.GetProperty("execution_id").GetString()!;
    }

    [Fact]
    public async Task Containers_succeed_with_results_and_fail_for_memory_and_time_with_their_reasons()
    {
        var token = await _platform.CreateTenantAsync("containers");
        using var api = new Api(_platform.Url, token);

        var report = await SubmitAsync(token, "--name", "report", "--",
            "sh", "-c", "echo working as $(id -u); echo '{\"rows\": 3}' > \"$JOBPLANE_OUTPUT_DIR/result.json\"");
        var hungry = await SubmitAsync(token, "--name", "hungry", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1");
        var sleeper = await SubmitAsync(token, "--name", "sleeper", "--timeout", "1", "--", "sleep", "600");

        var done = await api.WaitForStatusAsync(report, "SUCCEEDED", Patience);
        Assert.Equal(3, done.GetProperty("result").GetProperty("rows").GetInt32());
        Assert.Equal(0, done.GetProperty("exit_code").GetInt32());
        var logs = await _platform.JobctlAsync(token, "logs", report);
        Assert.Equal("working as 65534", logs.Line);

        var oom = await api.WaitForAsync(hungry, s => s is "SUCCEEDED" or "FAILED", Patience);
        Assert.Equal("FAILED", oom.GetProperty("status").GetString());
        Assert.Equal("killed: out of memory (limit 32 MiB)", oom.GetProperty("error").GetString());
        Assert.Equal(137, oom.GetProperty("exit_code").GetInt32());

        var timedOut = await api.WaitForAsync(sleeper, s => s is "SUCCEEDED" or "FAILED", Patience);
        Assert.Equal("FAILED", timedOut.GetProperty("status").GetString());
        Assert.Equal("timed out after 1s", timedOut.GetProperty("error").GetString());

        foreach (var id in new[] { report, hungry, sleeper })
            Assert.Empty(await TestDocker.ContainersLabelledAsync("jobplane.execution", id));
    }
}

/// <summary>
/// Containers load the machine far more than exec jobs do: run on their own, after the other
/// system tests, so that no timing-sensitive test shares the CPUs with a Docker Engine at work.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DockerCollection
{
    public const string Name = "docker";
}
