namespace Jobplane.Worker.Tests.Agent;

/// <summary>A worker with bad settings refuses to start, naming every bad setting at once.</summary>
public sealed class WorkerOptionsTests
{
    [Fact]
    public void Defaults_need_only_a_worker_token()
    {
        var options = WorkerOptions.FromEnvironment(k => k == "WORKER_TOKEN" ? "a-worker-token-of-some-length" : null);
        Assert.Equal(new Uri("http://localhost:6161"), options.ControllerUrl);
        Assert.Equal(4, options.Concurrency);
        Assert.Equal(TimeSpan.FromSeconds(2), options.HeartbeatInterval);
        Assert.Equal("exec", options.Runtime);
    }

    [Fact]
    public void Every_bad_setting_is_named_in_one_error()
    {
        var env = new Dictionary<string, string>
        {
            ["CONTROLLER_URL"] = "ftp://nope",
            ["WORKER_CONCURRENCY"] = "0",
            ["WORKER_HEARTBEAT_INTERVAL"] = "soon",
            ["WORKER_TENANTS"] = "not-a-uuid",
            ["RUNTIME"] = "podman",
        };
        var e = Assert.Throws<InvalidOperationException>(() => WorkerOptions.FromEnvironment(k => env.GetValueOrDefault(k)));
        foreach (var name in new[] { "CONTROLLER_URL", "WORKER_TOKEN", "WORKER_CONCURRENCY", "WORKER_HEARTBEAT_INTERVAL", "WORKER_TENANTS", "RUNTIME" })
            Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_noop_benchmarking_runtime_can_be_chosen()
    {
        var env = new Dictionary<string, string> { ["WORKER_TOKEN"] = "a-worker-token-of-some-length", ["RUNTIME"] = "noop" };
        Assert.Equal("noop", WorkerOptions.FromEnvironment(k => env.GetValueOrDefault(k)).Runtime);
    }

    [Fact]
    public void The_kubernetes_runtime_reads_its_settings_and_needs_a_namespace_and_a_cluster()
    {
        var kubeconfig = Path.GetTempFileName();
        try
        {
            File.WriteAllText(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters: [{name: c, cluster: {server: "https://cluster.example:6443"}}]
                users: [{name: u, user: {token: abc}}]
                contexts: [{name: x, context: {cluster: c, user: u}}]
                current-context: x
                """);
            var env = new Dictionary<string, string>
            {
                ["WORKER_TOKEN"] = "a-worker-token-of-some-length",
                ["WORKER_ID"] = "k8s-worker-0",
                ["RUNTIME"] = "kubernetes",
                ["KUBECONFIG"] = kubeconfig,
                ["KUBERNETES_NAMESPACE"] = "jobs",
                ["KUBERNETES_MAX_MEMORY"] = "1g",
                ["KUBERNETES_SPLIT_LOG_STREAMS"] = "true",
            };
            var options = WorkerOptions.FromEnvironment(k => env.GetValueOrDefault(k));
            Assert.Equal("kubernetes", options.Runtime);
            Assert.Equal("jobs", options.Kubernetes!.Namespace);
            Assert.Equal("k8s-worker-0", options.Kubernetes.WorkerId);
            Assert.Equal(1L << 30, options.Kubernetes.MaxLimits.MemoryBytes);
            Assert.True(options.Kubernetes.SplitLogStreams);
            Assert.Equal(options.WorkRoot, options.Kubernetes.WorkRoot);

            env["KUBERNETES_CONTEXT"] = "no-such-context";
            var bad = Assert.Throws<InvalidOperationException>(() => WorkerOptions.FromEnvironment(k => env.GetValueOrDefault(k)));
            Assert.Contains($"KUBECONFIG '{kubeconfig}' (context 'no-such-context') cannot be used", bad.Message, StringComparison.Ordinal);
            env.Remove("KUBERNETES_CONTEXT");

            env.Remove("KUBERNETES_NAMESPACE");
            env.Remove("KUBECONFIG");
            var e = Assert.Throws<InvalidOperationException>(() => WorkerOptions.FromEnvironment(k => env.GetValueOrDefault(k)));
            Assert.Contains("KUBERNETES_NAMESPACE is required with RUNTIME=kubernetes", e.Message, StringComparison.Ordinal);
            Assert.Contains("KUBECONFIG is required outside a cluster", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }

    private static (WorkerOptions? Options, string? Error) ExecUsers(uint effectiveUid, params (string Key, string Value)[] settings)
    {
        var env = settings.ToDictionary(s => s.Key, s => s.Value);
        var read = new Jobplane.Api.SettingReader(k => env.GetValueOrDefault(k));
        var options = WorkerOptions.ReadExecUsers(read, k => env.GetValueOrDefault(k),
            new WorkerOptions { ControllerUrl = new Uri("http://localhost:6161"), WorkerToken = "t", WorkerId = "w", WorkRoot = "/tmp", Concurrency = 4 },
            effectiveUid);
        return read.Errors.Count == 0 ? (options, null) : (null, string.Join("; ", read.Errors));
    }

    [Fact]
    public void A_root_exec_worker_runs_each_job_as_a_user_of_its_own_and_never_as_itself()
    {
        var (defaults, _) = ExecUsers(0);
        Assert.Equal(Runtimes.Exec.JobUserRange.Default, defaults!.ExecJobUsers);
        Assert.Equal(new Runtimes.Exec.JobUserRange(20_000, 20_009), ExecUsers(0, ("EXEC_JOB_UIDS", "20000-20009")).Options!.ExecJobUsers);

        Assert.Contains("would run exec jobs as root", ExecUsers(0, ("EXEC_RUN_AS_WORKER_USER", "true")).Error, StringComparison.Ordinal);
        Assert.Contains("fewer than WORKER_CONCURRENCY", ExecUsers(0, ("EXEC_JOB_UIDS", "20000-20001")).Error, StringComparison.Ordinal);
        Assert.Contains("EXEC_JOB_UIDS must be a range", ExecUsers(0, ("EXEC_JOB_UIDS", "0-100")).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_that_cannot_switch_users_refuses_to_start_unless_told_to_run_jobs_as_itself()
    {
        Assert.Contains("cannot run exec jobs as other users", ExecUsers(1000).Error, StringComparison.Ordinal);
        Assert.Contains("needs a worker running as root", ExecUsers(1000, ("EXEC_JOB_UIDS", "20000-20009")).Error, StringComparison.Ordinal);

        var (accepted, _) = ExecUsers(1000, ("EXEC_RUN_AS_WORKER_USER", "true"));
        Assert.True(accepted!.ExecRunAsWorkerUser);
        Assert.Null(accepted.ExecJobUsers);
    }
}
