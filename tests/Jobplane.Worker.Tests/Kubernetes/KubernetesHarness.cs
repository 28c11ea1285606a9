using Jobplane.Testing;
using Jobplane.Testing.Kubernetes;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Kubernetes;
using Jobplane.Worker.Tests.Exec;
using k8s;
using k8s.Models;

namespace Jobplane.Worker.Tests.Kubernetes;

/// <summary>
/// One kubernetes runtime against its own fake API server, whose pods run as real containers on
/// the test Docker Engine: the job's container from the test image, the result container from the
/// jobplane image that scripts/test.sh builds (<see cref="ResultImage"/>). A private WorkRoot and a
/// unique worker id keep tests apart. Disposing it checks what a user would: no Job, pod or
/// container of this worker is left.
/// </summary>
internal sealed class KubernetesHarness : IAsyncDisposable
{
    public const string Namespace = "jobs";
    /// <summary>The jobplane image whose read-result mode the result container runs: JOBPLANE_TEST_IMAGE, or jobplane:dev.</summary>
    public static string ResultImage =>
        Environment.GetEnvironmentVariable("JOBPLANE_TEST_IMAGE") is { Length: > 0 } configured ? configured.Trim() : KubernetesRuntimeOptions.DefaultResultImage;

    private KubernetesHarness(FakeKubernetes fake, Func<KubernetesRuntimeOptions, KubernetesRuntimeOptions>? configure)
    {
        Fake = fake;
        WorkRoot = Directory.CreateTempSubdirectory("jobplane-kubernetes-").FullName;
        WorkerId = "test-" + Guid.NewGuid().ToString("N")[..12];
        var options = new KubernetesRuntimeOptions
        {
            WorkRoot = WorkRoot,
            WorkerId = WorkerId,
            Namespace = Namespace,
            KillGrace = TimeSpan.FromSeconds(1),
            ResultImage = ResultImage,
            // The fake serves the stream parameter, as a cluster with PodLogsQuerySplitStreams does.
            SplitLogStreams = true,
            PendingTimeout = TimeSpan.FromSeconds(30),
            DefaultLimits = new PodLimits { MemoryBytes = 64L << 20, Cpus = 1 },
            MaxLimits = new PodLimits { MemoryBytes = 64L << 20, Cpus = 1 },
        };
        Options = configure is null ? options : configure(options);
        // The fake's address rather than a kubeconfig or the in-cluster configuration.
        Driver = new KubernetesRuntime(Options, Logger, TimeProvider.System, fake.Configuration());
        Runtime = new AttemptSupervisor(Driver, Logger, TimeProvider.System);
        Client = fake.CreateClient();
    }

    public static async Task<KubernetesHarness> StartAsync(Func<KubernetesRuntimeOptions, KubernetesRuntimeOptions>? configure = null, NodeSize? node = null) =>
        new(await FakeKubernetes.StartAsync(TestDocker.Host, TestDocker.Image, node: node), configure);

    /// <summary>For a synchronous factory: started off the test's synchronization context, so that blocking cannot deadlock.</summary>
    public static KubernetesHarness Start(Func<KubernetesRuntimeOptions, KubernetesRuntimeOptions>? configure = null) =>
        Task.Run(() => StartAsync(configure)).GetAwaiter().GetResult();

    public FakeKubernetes Fake { get; }
    public k8s.Kubernetes Client { get; }
    public string WorkRoot { get; }
    public string WorkerId { get; }
    public KubernetesRuntimeOptions Options { get; }
    public ListLogger<KubernetesRuntime> Logger { get; } = new();
    public KubernetesRuntime Driver { get; }
    public AttemptSupervisor Runtime { get; }

    public static RunSpec Spec(IReadOnlyList<string> command, TimeSpan? timeout = null, string image = TestDocker.Image) =>
        new(Guid.NewGuid(), Guid.NewGuid(), 1, image, command, timeout ?? TimeSpan.FromSeconds(60), new Dictionary<string, string>())
        {
            TenantId = Guid.NewGuid(),
        };

    public static RunSpec Shell(string script, TimeSpan? timeout = null) => Spec(["sh", "-c", script], timeout);

    public async Task<(RunOutcome Outcome, CollectingLogSink Logs)> RunAsync(RunSpec spec, CancellationToken stop = default, CancellationToken kill = default)
    {
        var logs = new CollectingLogSink();
        var outcome = await Runtime.RunAsync(spec, logs, stop, kill);
        return (outcome, logs);
    }

    /// <summary>Whether nothing of the attempt exists: no Job, no pod, no container on the engine (polls for a few seconds).</summary>
    public async Task<bool> AttemptGoneAsync(RunSpec spec)
    {
        var name = JobManifest.NameOf(spec);
        for (var i = 0; i < 100; i++)
        {
            var jobs = await Client.BatchV1.ListNamespacedJobAsync(Namespace, fieldSelector: $"metadata.name={name}");
            var pods = await Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"job-name={name}");
            var containers = (await TestDocker.ContainersLabelledAsync(FakeKubernetes.InstanceLabel, Fake.Instance))
                .Count(c => c.Labels.TryGetValue("io.kubernetes.pod.name", out var pod) && pod.StartsWith(name, StringComparison.Ordinal));
            if (jobs.Items.Count == 0 && pods.Items.Count == 0 && containers == 0) return true;
            await Task.Delay(100);
        }
        return false;
    }

    /// <summary>A Job labelled as worker <paramref name="workerId"/>'s, running until deleted, as a crashed life of that worker leaves it.</summary>
    public async Task<string> LeaveJobAsync(string workerId)
    {
        var spec = Spec(["sleep", "600"]);
        Assert.Null(JobManifest.TryBuild(spec, Options with { WorkerId = workerId }, out var job));
        await Client.BatchV1.CreateNamespacedJobAsync(job!, Namespace);
        return job!.Metadata.Name;
    }

    public async Task<bool> JobExistsAsync(string name) =>
        (await Client.BatchV1.ListNamespacedJobAsync(Namespace, fieldSelector: $"metadata.name={name}")).Items.Count > 0;

    public async ValueTask DisposeAsync()
    {
        Runtime.Dispose();
        var left = await Client.BatchV1.ListNamespacedJobAsync(Namespace, labelSelector: $"{JobManifest.WorkerLabel}={WorkerId}");
        Client.Dispose();
        await Fake.DisposeAsync();
        try
        {
            Directory.Delete(WorkRoot, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
        Assert.Empty(Fake.Faults);
        Assert.True(left.Items.Count == 0, $"{left.Items.Count} Job(s) of worker {WorkerId} left: {string.Join(", ", left.Items.Select(j => j.Metadata.Name))}");
    }
}
