using Jobplane.Api;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Kubernetes;

namespace Jobplane.Worker.Tests.Kubernetes;

/// <summary>The operator's KUBERNETES_* settings: isolating defaults, every bad one named, requests bounded by maximums.</summary>
public sealed class KubernetesRuntimeOptionsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("k8s-options-").FullName;
    private readonly string _kubeConfig;

    public KubernetesRuntimeOptionsTests()
    {
        _kubeConfig = Path.Combine(_folder, "config");
        File.WriteAllText(_kubeConfig, """
            apiVersion: v1
            kind: Config
            clusters:
            - name: first
              cluster: { server: "https://first.example:6443", insecure-skip-tls-verify: true }
            - name: second
              cluster: { server: "https://second.example:6443", insecure-skip-tls-verify: true }
            users:
            - name: someone
              user: { token: not-a-real-token }
            contexts:
            - name: first
              context: { cluster: first, user: someone, namespace: default }
            - name: second
              context: { cluster: second, user: someone, namespace: default }
            current-context: first
            """);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (KubernetesRuntimeOptions Options, IReadOnlyList<string> Errors) Read(Dictionary<string, string> env, string workerId = "worker-1")
    {
        var read = new SettingReader(k => env.GetValueOrDefault(k));
        var options = KubernetesRuntimeOptions.FromSettings(read, "/var/lib/jobplane", workerId, TimeSpan.FromSeconds(7));
        return (options, read.Errors);
    }

    private Dictionary<string, string> Minimal() => new() { ["KUBERNETES_NAMESPACE"] = "jobs", ["KUBECONFIG"] = _kubeConfig };

    private KubernetesRuntimeOptions Valid(Dictionary<string, string> extra)
    {
        var env = Minimal();
        foreach (var (k, v) in extra) env[k] = v;
        var (options, errors) = Read(env);
        Assert.Empty(errors);
        return options;
    }

    [Fact]
    public void The_defaults_isolate()
    {
        var options = Valid([]);

        Assert.Equal("jobs", options.Namespace);
        Assert.Equal("worker-1", options.WorkerId);
        Assert.Equal(_kubeConfig, options.KubeConfig);
        Assert.False(options.InCluster);
        Assert.Null(options.Context);
        Assert.Equal("jobplane:dev", options.ResultImage);
        Assert.Equal(TimeSpan.FromMinutes(5), options.PendingTimeout);
        Assert.Equal(new PodLimits { MemoryBytes = 512L << 20, Cpus = 1 }, options.DefaultLimits);
        Assert.Equal(options.DefaultLimits, options.MaxLimits);
        Assert.Equal(64L << 20, options.TmpBytes);
        Assert.Equal(64L << 20, options.OutputBytes);
        Assert.Equal((65534, 65534), (options.Uid, options.Gid));
        Assert.False(options.AllowRoot);
        Assert.False(options.AllowNetwork);
        Assert.Equal(TimeSpan.FromSeconds(300), options.TtlAfterFinished);
        Assert.Equal(TimeSpan.FromSeconds(7), options.KillGrace);
    }

    [Fact]
    public void Settings_are_read()
    {
        var options = Valid(new()
        {
            ["KUBERNETES_CONTEXT"] = "second",
            ["KUBERNETES_RESULT_IMAGE"] = "registry.local/jobplane:1.2",
            ["KUBERNETES_PENDING_TIMEOUT"] = "90s",
            ["KUBERNETES_MEMORY_LIMIT"] = "64m",
            ["KUBERNETES_MAX_MEMORY"] = "1g",
            ["KUBERNETES_CPU_LIMIT"] = "0.25",
            ["KUBERNETES_MAX_CPUS"] = "2",
            ["KUBERNETES_TMP_SIZE"] = "16MiB",
            ["KUBERNETES_OUTPUT_SIZE"] = "8m",
            ["KUBERNETES_USER"] = "1000:2000",
            ["KUBERNETES_ALLOW_ROOT"] = "true",
            ["KUBERNETES_ALLOW_NETWORK"] = "yes",
            ["KUBERNETES_TTL_AFTER_FINISHED"] = "1m",
        });

        Assert.Equal("second", options.Context);
        Assert.Equal("registry.local/jobplane:1.2", options.ResultImage);
        Assert.Equal(TimeSpan.FromSeconds(90), options.PendingTimeout);
        Assert.Equal(new PodLimits { MemoryBytes = 64L << 20, Cpus = 0.25 }, options.DefaultLimits);
        Assert.Equal(new PodLimits { MemoryBytes = 1L << 30, Cpus = 2 }, options.MaxLimits);
        Assert.Equal(16L << 20, options.TmpBytes);
        Assert.Equal(8L << 20, options.OutputBytes);
        Assert.Equal((1000, 2000), (options.Uid, options.Gid));
        Assert.True(options.AllowRoot);
        Assert.True(options.AllowNetwork);
        Assert.Equal(TimeSpan.FromMinutes(1), options.TtlAfterFinished);
    }

    [Fact]
    public void The_kubeconfig_and_its_context_make_the_client_configuration()
    {
        Assert.Equal("https://first.example:6443/", Valid([]).ClientConfiguration().Host.TrimEnd('/') + "/");
        Assert.Equal("https://second.example:6443/",
            Valid(new() { ["KUBERNETES_CONTEXT"] = "second" }).ClientConfiguration().Host.TrimEnd('/') + "/");
    }

    [Fact]
    public void Inside_a_cluster_no_kubeconfig_is_needed()
    {
        var (options, errors) = Read(new()
        {
            ["KUBERNETES_NAMESPACE"] = "jobs",
            ["KUBERNETES_SERVICE_HOST"] = "10.0.0.1",
            ["KUBERNETES_SERVICE_PORT"] = "443",
        });

        Assert.Empty(errors);
        Assert.True(options.InCluster);
        Assert.Null(options.KubeConfig);
    }

    [Fact]
    public void Outside_a_cluster_KUBECONFIG_is_required_and_must_exist()
    {
        var (_, errors) = Read(new() { ["KUBERNETES_NAMESPACE"] = "jobs" });
        Assert.Contains(errors, e => e.StartsWith("KUBECONFIG is required outside a cluster", StringComparison.Ordinal));

        (_, errors) = Read(new() { ["KUBERNETES_NAMESPACE"] = "jobs", ["KUBECONFIG"] = Path.Combine(_folder, "missing") });
        Assert.Contains(errors, e => e.StartsWith("KUBECONFIG names no file", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_bad_setting_is_named()
    {
        var env = new Dictionary<string, string>
        {
            ["KUBERNETES_PENDING_TIMEOUT"] = "soon",
            ["KUBERNETES_MEMORY_LIMIT"] = "lots",
            ["KUBERNETES_MAX_MEMORY"] = "more",
            ["KUBERNETES_CPU_LIMIT"] = "-1",
            ["KUBERNETES_MAX_CPUS"] = "many",
            ["KUBERNETES_TMP_SIZE"] = "12 parsecs",
            ["KUBERNETES_OUTPUT_SIZE"] = "0",
            ["KUBERNETES_USER"] = "nobody",
            ["KUBERNETES_ALLOW_ROOT"] = "maybe",
            ["KUBERNETES_ALLOW_NETWORK"] = "perhaps",
            ["KUBERNETES_TTL_AFTER_FINISHED"] = "later",
        };
        var names = env.Keys.Append("KUBERNETES_NAMESPACE").ToList();
        var (_, errors) = Read(env);

        foreach (var name in names) Assert.Contains(errors, e => e.Contains(name, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("KUBERNETES_NAMESPACE", "Jobs", "KUBERNETES_NAMESPACE must be a namespace name")]
    [InlineData("KUBERNETES_NAMESPACE", "jobs-", "KUBERNETES_NAMESPACE must be a namespace name")]
    [InlineData("KUBERNETES_USER", "0:0", "runs jobs as root; set KUBERNETES_ALLOW_ROOT=true")]
    [InlineData("KUBERNETES_USER", "1000:0", "runs jobs as root")]
    [InlineData("KUBERNETES_MAX_MEMORY", "64m", "KUBERNETES_MAX_MEMORY must not be below KUBERNETES_MEMORY_LIMIT")]
    [InlineData("KUBERNETES_MAX_CPUS", "0.5", "KUBERNETES_MAX_CPUS must not be below KUBERNETES_CPU_LIMIT")]
    [InlineData("KUBERNETES_MEMORY_LIMIT", "1m", "at least 6 MiB")]
    [InlineData("KUBERNETES_OUTPUT_SIZE", "512k", "KUBERNETES_OUTPUT_SIZE must be at least 1 MiB")]
    [InlineData("KUBERNETES_RESULT_IMAGE", "jobplane dev", "KUBERNETES_RESULT_IMAGE must be an image reference")]
    [InlineData("KUBERNETES_TTL_AFTER_FINISHED", "3000000000", "KUBERNETES_TTL_AFTER_FINISHED must be between 0 and 68 years")]
    public void Settings_that_cannot_work_are_refused(string key, string value, string expected)
    {
        var env = Minimal();
        env[key] = value;
        var (_, errors) = Read(env);

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_context_needs_a_kubeconfig()
    {
        var (_, errors) = Read(new()
        {
            ["KUBERNETES_NAMESPACE"] = "jobs",
            ["KUBERNETES_CONTEXT"] = "second",
            ["KUBERNETES_SERVICE_HOST"] = "10.0.0.1",
            ["KUBERNETES_SERVICE_PORT"] = "443",
        });

        Assert.Equal(["KUBERNETES_CONTEXT names a context of a kubeconfig; set KUBECONFIG too"], errors);
    }

    [Theory]
    [InlineData("worker.with-a_long-but-fine-name-0123456789012345678901234567")]
    [InlineData("w")]
    public void A_worker_id_that_is_a_label_value_is_accepted(string workerId) =>
        Assert.Empty(Read(Minimal(), workerId).Errors);

    [Theory]
    [InlineData("worker-name-that-is-far-too-long-for-a-kubernetes-label-value-0123")]
    [InlineData("-worker")]
    [InlineData("worker.")]
    public void A_worker_id_that_cannot_be_a_label_value_is_refused(string workerId)
    {
        var (_, errors) = Read(Minimal(), workerId);
        Assert.Contains(errors, e => e.StartsWith("WORKER_ID must be a Kubernetes label value", StringComparison.Ordinal));
    }

    [Fact]
    public void A_job_gets_the_defaults_or_what_it_asks_for_within_the_maximums()
    {
        var options = Valid(new()
        {
            ["KUBERNETES_MEMORY_LIMIT"] = "64m",
            ["KUBERNETES_MAX_MEMORY"] = "1g",
            ["KUBERNETES_CPU_LIMIT"] = "0.5",
            ["KUBERNETES_MAX_CPUS"] = "2",
        });

        Assert.Null(options.ResolveLimits(null, out var defaults));
        Assert.Equal(options.DefaultLimits, defaults);
        Assert.Null(options.ResolveLimits(new ResourceRequest(MemoryBytes: 256L << 20, Cpus: 2, Pids: 10), out var asked));
        Assert.Equal(new PodLimits { MemoryBytes = 256L << 20, Cpus = 2 }, asked);
        Assert.Equal("memory request 2 GiB is not within this worker's maximum of 1 GiB",
            options.ResolveLimits(new ResourceRequest(MemoryBytes: 2L << 30), out _));
        Assert.Equal("CPU request 4 is not within this worker's maximum of 2",
            options.ResolveLimits(new ResourceRequest(Cpus: 4), out _));
    }

    [Fact]
    public void Root_and_network_only_where_the_operator_allows_them()
    {
        var closed = Valid([]);
        var open = Valid(new() { ["KUBERNETES_ALLOW_ROOT"] = "true", ["KUBERNETES_ALLOW_NETWORK"] = "true" });

        Assert.Null(closed.ResolveUser(asksRoot: false, out var uid, out var gid));
        Assert.Equal((65534, 65534), (uid, gid));
        Assert.Equal("the job asks to run as root, and this worker does not allow it (KUBERNETES_ALLOW_ROOT=false)",
            closed.ResolveUser(asksRoot: true, out _, out _));
        Assert.Null(open.ResolveUser(asksRoot: true, out uid, out gid));
        Assert.Equal((0, 0), (uid, gid));
        Assert.Null(open.ResolveUser(asksRoot: false, out uid, out _));
        Assert.Equal(65534, uid);

        Assert.Null(closed.ResolveNetwork(asked: false));
        Assert.Equal("the job asks for network, and this worker allows none (KUBERNETES_ALLOW_NETWORK=false)", closed.ResolveNetwork(asked: true));
        Assert.Null(open.ResolveNetwork(asked: true));

        Assert.False(closed.Capabilities.Network);
        Assert.False(closed.Capabilities.RunAsRoot);
        Assert.True(open.Capabilities.Network);
        Assert.True(open.Capabilities.RunAsRoot);
        Assert.Equal(512, open.Capabilities.MaxMemoryMib);
        Assert.Equal(1, open.Capabilities.MaxCpus);
    }
}
