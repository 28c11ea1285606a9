using System.Text.Json;
using Jobplane.Testing;
using Jobplane.Testing.Kubernetes;
using k8s;

namespace Jobplane.SystemTests;

/// <summary>
/// A worker with RUNTIME=kubernetes, as an operator starts it (a kubeconfig, a namespace), against
/// the fake API server whose pods are real containers on the test engine (no cluster can run here):
/// results, OOM kills and timeouts come back with their reasons, and no Job or pod outlives its
/// attempt, also when the worker is killed mid-attempt and started again.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class KubernetesWorkerTests : IAsyncLifetime
{
    private const string Namespace = "jobs";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly Platform _platform = new();
    private readonly string _kubeconfig = Path.GetTempFileName();
    private readonly string _workerId = "k8s-" + Guid.NewGuid().ToString("N")[..10];
    private FakeKubernetes? _fake;
    private Testing.Processes.ChildProcess? _worker;

    private FakeKubernetes Fake => _fake ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _fake = await FakeKubernetes.StartAsync(TestDocker.Host, TestDocker.Image);
        // A kubeconfig as a user writes one; the fake speaks plain HTTP and checks no credential.
        await File.WriteAllTextAsync(_kubeconfig, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {Fake.Host}
            users:
            - name: tester
              user:
                token: not-checked-by-the-fake
            contexts:
            - name: fake
              context:
                cluster: fake
                user: tester
            current-context: fake
            """);
        // A short lease: the killed worker's attempt is rescued within seconds.
        _platform.ControllerEnv["HEARTBEAT_VISIBILITY_EXTENSION"] = "4s";
        await _platform.InitializeAsync();
        await _platform.StartControllerAsync();
        _worker = StartWorker();
    }

    private Testing.Processes.ChildProcess StartWorker() => _platform.StartWorker(_workerId, new Dictionary<string, string?>
    {
        ["RUNTIME"] = "kubernetes",
        ["KUBECONFIG"] = _kubeconfig,
        ["KUBERNETES_NAMESPACE"] = Namespace,
        ["KUBERNETES_RESULT_IMAGE"] = Environment.GetEnvironmentVariable("JOBPLANE_TEST_IMAGE") is { Length: > 0 } image ? image : "jobplane:dev",
        ["KUBERNETES_MEMORY_LIMIT"] = "32m",
        ["KUBERNETES_SPLIT_LOG_STREAMS"] = "true",
    });

    public async Task DisposeAsync()
    {
        await _platform.DisposeAsync();
        if (_fake is not null) await _fake.DisposeAsync();
        File.Delete(_kubeconfig);
    }

    private async Task<string> SubmitAsync(string token, params string[] args)
    {
        var submit = await _platform.JobctlAsync(token, ["submit", "--image", TestDocker.Image, "-o", "json", .. args]);
        Assert.True(submit.ExitCode == 0, submit.Stderr);
        using var doc = JsonDocument.Parse(submit.Stdout);
        return doc.RootElement.GetProperty("execution_id").GetString()!;
    }

    private async Task<int> JobsLeftAsync()
    {
        using var client = Fake.CreateClient();
        return (await client.BatchV1.ListNamespacedJobAsync(Namespace)).Items.Count;
    }

    [Fact]
    public async Task Jobs_succeed_with_results_and_fail_for_memory_and_time_and_leave_no_Job_behind()
    {
        var token = await _platform.CreateTenantAsync("kubernetes");
        using var api = new Api(_platform.Url, token);

        var report = await SubmitAsync(token, "--name", "report", "--max-attempts", "1", "--",
            "sh", "-c", "echo working as $(id -u); echo '{\"rows\": 3}' > \"$JOBPLANE_OUTPUT_DIR/result.json\"");
        var hungry = await SubmitAsync(token, "--name", "hungry", "--max-attempts", "1", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1");
        var sleeper = await SubmitAsync(token, "--name", "sleeper", "--max-attempts", "1", "--timeout", "1", "--", "sleep", "600");

        var done = await api.WaitForStatusAsync(report, "SUCCEEDED", Patience);
        Assert.Equal(3, done.GetProperty("result").GetProperty("rows").GetInt32());
        var logs = await _platform.JobctlAsync(token, "logs", report);
        Assert.Equal("working as 65534", logs.Line);

        var oom = await api.WaitForAsync(hungry, s => s is "SUCCEEDED" or "FAILED", Patience);
        Assert.Equal("killed: out of memory (limit 32 MiB)", oom.GetProperty("error").GetString());
        Assert.Equal(137, oom.GetProperty("exit_code").GetInt32());

        var timedOut = await api.WaitForAsync(sleeper, s => s is "SUCCEEDED" or "FAILED", Patience);
        Assert.Equal("timed out after 1s", timedOut.GetProperty("error").GetString());

        Assert.Equal(0, await JobsLeftAsync());
        Assert.Empty(Fake.Faults);
    }

    [Fact]
    public async Task A_worker_killed_mid_attempt_removes_its_Job_when_started_again_and_the_execution_runs_again()
    {
        var token = await _platform.CreateTenantAsync("restart");
        using var api = new Api(_platform.Url, token);
        var id = await SubmitAsync(token, "--name", "restarted", "--max-attempts", "3", "--",
            "sh", "-c", "echo started; sleep 600");
        await api.WaitForStatusAsync(id, "RUNNING", Patience);
        var deadline = DateTime.UtcNow + Patience;
        while (await JobsLeftAsync() == 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(1, await JobsLeftAsync());

        _worker!.Signal(9);
        Assert.True(await _worker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        // The killed worker's Job runs on, unobserved, until the worker is back.
        Assert.Equal(1, await JobsLeftAsync());
        _worker = StartWorker();

        // The new life deletes its predecessor's Job; the lease expires and the execution runs again.
        var cancelled = false;
        while (DateTime.UtcNow < deadline)
        {
            var execution = await api.ExecutionAsync(id);
            if (execution.GetProperty("attempt").GetInt32() >= 2 && execution.GetProperty("status").GetString() == "RUNNING")
            {
                var cancel = await _platform.JobctlAsync(token, "cancel", id);
                Assert.True(cancel.ExitCode == 0, cancel.Stderr);
                cancelled = true;
                break;
            }
            await Task.Delay(200);
        }
        Assert.True(cancelled, "the execution did not run again after the worker restarted");
        var ended = await api.WaitForAsync(id, s => s is "CANCELLED" or "FAILED" or "SUCCEEDED", Patience);
        Assert.Equal("CANCELLED", ended.GetProperty("status").GetString());
        Assert.Contains("Removed orphan Kubernetes Job", _worker.Output, StringComparison.Ordinal);
        deadline = DateTime.UtcNow + Patience;
        while (await JobsLeftAsync() > 0 && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.Equal(0, await JobsLeftAsync());
    }
}
