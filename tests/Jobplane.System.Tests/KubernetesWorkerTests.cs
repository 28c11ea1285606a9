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
        // A short lease: a killed worker's attempt is rescued within seconds, unless its next life,
        // started at once, takes it over first. Not shorter: on a loaded 2-core machine starting the
        // next life and its first calls can take most of it.
        _platform.ControllerEnv["HEARTBEAT_VISIBILITY_EXTENSION"] = "30s";
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

    private async Task KillWorkerAsync()
    {
        _worker!.Signal(9);
        Assert.True(await _worker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        // The killed worker's Job runs on, unobserved, until the worker is back.
        Assert.Equal(1, await JobsLeftAsync());
    }

    private async Task WaitForOneJobAsync()
    {
        var deadline = DateTime.UtcNow + Patience;
        while (await JobsLeftAsync() == 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(1, await JobsLeftAsync());
    }

    [Fact]
    public async Task A_worker_killed_mid_attempt_takes_its_running_Job_over_when_started_again_without_losing_or_repeating_a_line()
    {
        var token = await _platform.CreateTenantAsync("adopted");
        using var api = new Api(_platform.Url, token);
        var id = await SubmitAsync(token, "--name", "adopted", "--max-attempts", "1", "--",
            "sh", "-c", "for i in $(seq 1 40); do echo line-$i; echo err-$i >&2; sleep 0.1; done; echo '{\"lines\": 40}' > \"$JOBPLANE_OUTPUT_DIR/result.json\"");
        await WaitForOneJobAsync();
        // Some lines are stored before the kill, the rest only after the next life takes over.
        var deadline = DateTime.UtcNow + Patience;
        while ((await _platform.JobctlAsync(token, "logs", id)).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length < 6 && DateTime.UtcNow < deadline)
            await Task.Delay(100);

        await KillWorkerAsync();
        _worker = StartWorker();

        var done = await api.WaitForAsync(id, s => s is "SUCCEEDED" or "FAILED", Patience);
        Assert.True(done.GetProperty("status").GetString() == "SUCCEEDED", $"{done}\nworker:\n{_worker.Tail(40)}");
        // The same attempt, not a second one: its Job was taken over, not created again.
        Assert.Equal(1, done.GetProperty("attempt").GetInt32());
        Assert.Equal(40, done.GetProperty("result").GetProperty("lines").GetInt32());
        Assert.Contains("taken over from this worker", _worker.Output, StringComparison.Ordinal);
        var logs = (await _platform.JobctlAsync(token, "logs", id)).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"line-{i}"), logs.Where(l => l.StartsWith("line-", StringComparison.Ordinal)));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"err-{i}"), logs.Where(l => l.StartsWith("err-", StringComparison.Ordinal)));
        deadline = DateTime.UtcNow + Patience;
        while (await JobsLeftAsync() > 0 && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.Equal(0, await JobsLeftAsync());
    }

    [Fact]
    public async Task A_worker_back_after_its_lease_expired_removes_its_Job_and_the_execution_runs_again()
    {
        var token = await _platform.CreateTenantAsync("expired");
        using var api = new Api(_platform.Url, token);
        var id = await SubmitAsync(token, "--name", "expired", "--max-attempts", "3", "--", "sh", "-c", "echo started; sleep 600");
        await WaitForOneJobAsync();

        await KillWorkerAsync();
        // The lease runs out while the worker is away: the execution is rescued for another attempt.
        var rescued = await api.WaitForAsync(id, s => s == "PENDING", TimeSpan.FromSeconds(90));
        Assert.Equal(1, rescued.GetProperty("attempt").GetInt32());
        _worker = StartWorker();

        // The next life cannot take the Job over (its lease is gone): it deletes it, then runs attempt 2.
        var deadline = DateTime.UtcNow + Patience;
        var second = false;
        while (!second && DateTime.UtcNow < deadline)
        {
            var execution = await api.ExecutionAsync(id);
            second = execution.GetProperty("attempt").GetInt32() == 2 && execution.GetProperty("status").GetString() == "RUNNING";
            if (!second) await Task.Delay(200);
        }
        Assert.True(second, "the execution did not run again after the worker came back");
        Assert.Contains("is not taken over", _worker.Output, StringComparison.Ordinal);
        Assert.Contains("Removed orphan Kubernetes Job", _worker.Output, StringComparison.Ordinal);
        var cancel = await _platform.JobctlAsync(token, "cancel", id);
        Assert.True(cancel.ExitCode == 0, cancel.Stderr);
        var ended = await api.WaitForAsync(id, s => s is "CANCELLED" or "FAILED" or "SUCCEEDED", Patience);
        Assert.Equal("CANCELLED", ended.GetProperty("status").GetString());
        deadline = DateTime.UtcNow + Patience;
        while (await JobsLeftAsync() > 0 && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.Equal(0, await JobsLeftAsync());
    }
}
