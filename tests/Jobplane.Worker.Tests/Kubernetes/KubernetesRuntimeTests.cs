using System.Globalization;
using Jobplane.Api;
using Jobplane.Testing.Kubernetes;
using Jobplane.Worker.Runtimes;
using Jobplane.Worker.Runtimes.Kubernetes;
using Jobplane.Worker.Tests.Conformance;
using Jobplane.Worker.Tests.Exec;
using k8s;

namespace Jobplane.Worker.Tests.Kubernetes;

/// <summary>
/// What the kubernetes runtime does beyond the conformance suite, against the fake API server
/// whose pods are real containers: results up to 1 MiB, OOM kills with their limit, images that
/// cannot be pulled, pods that cannot be scheduled, evictions and lost nodes, broken log streams,
/// and a Job created twice.
/// </summary>
public sealed class KubernetesRuntimeTests
{
    [Fact]
    public async Task A_result_of_exactly_one_MiB_comes_back_whole()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        // A JSON string of 1 MiB in all: the quotes and 1,048,574 characters.
        var spec = KubernetesHarness.Shell("""{ printf '"'; head -c 1048574 /dev/zero | tr '\0' a; printf '"'; } > "$JOBPLANE_OUTPUT_DIR/result.json" """);

        var (outcome, _) = await k8s.RunAsync(spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(Wire.MaxResultBytes - 2, outcome.Result!.Value.GetString()!.Length);
        Assert.True(await k8s.AttemptGoneAsync(spec));
    }

    [Fact]
    public async Task An_out_of_memory_kill_is_reported_with_the_limit()
    {
        await using var k8s = await KubernetesHarness.StartAsync(o => o with { DefaultLimits = new PodLimits { MemoryBytes = 16L << 20, Cpus = 1 } });

        var (outcome, _) = await k8s.RunAsync(KubernetesHarness.Spec(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]));

        Assert.Equal(137, outcome.ExitCode);
        Assert.Equal("killed: out of memory (limit 16 MiB)", outcome.Error);
        Assert.True(outcome.Retryable);
    }

    [Fact]
    public async Task An_image_that_cannot_be_pulled_fails_without_retry_and_leaves_nothing()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        var spec = KubernetesHarness.Spec(["true"], image: "registry.invalid/no-such-image:1");

        var (outcome, _) = await k8s.RunAsync(spec);

        Assert.False(outcome.Retryable);
        Assert.Null(outcome.ExitCode);
        Assert.StartsWith("image 'registry.invalid/no-such-image:1' cannot be pulled (ErrImagePull", outcome.Error, StringComparison.Ordinal);
        Assert.True(await k8s.AttemptGoneAsync(spec), "the Job or its pod is still there");
    }

    [Fact]
    public async Task A_pod_that_cannot_be_scheduled_fails_after_the_pending_time_with_the_schedulers_reason()
    {
        // A node smaller than what the job asks for: the scheduler never places the pod.
        await using var k8s = await KubernetesHarness.StartAsync(
            o => o with { PendingTimeout = TimeSpan.FromSeconds(3) },
            new NodeSize(AllocatableMemoryBytes: 32L << 20));
        var spec = KubernetesHarness.Spec(["true"]);

        var (outcome, _) = await k8s.RunAsync(spec);

        Assert.True(outcome.Retryable);
        Assert.Null(outcome.ExitCode);
        Assert.StartsWith("the pod did not start within 3s (KUBERNETES_PENDING_TIMEOUT): Unschedulable: 0/1 nodes are available: 1 Insufficient memory",
            outcome.Error, StringComparison.Ordinal);
        Assert.True(await k8s.AttemptGoneAsync(spec));
    }

    [Fact]
    public async Task An_evicted_pod_hands_the_attempt_back_uncharged()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        var spec = KubernetesHarness.Shell("echo started; sleep 600");

        var outcome = await k8s.Runtime.RunAsync(spec, new OnFirstLine(() => k8s.Fake.EvictPod(KubernetesHarness.Namespace, PodOf(k8s, spec))), CancellationToken.None);

        Assert.True(outcome.HandBack, outcome.Error);
        Assert.True(outcome.Retryable);
        Assert.StartsWith("the pod was evicted by its node: The node was low on resource: memory.", outcome.Error, StringComparison.Ordinal);
        Assert.True(await k8s.AttemptGoneAsync(spec));
    }

    [Fact]
    public async Task A_lost_node_hands_the_attempt_back_uncharged()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        var spec = KubernetesHarness.Shell("echo started; sleep 600");

        var outcome = await k8s.Runtime.RunAsync(spec, new OnFirstLine(() => k8s.Fake.LoseNode(KubernetesHarness.Namespace, PodOf(k8s, spec))), CancellationToken.None);

        Assert.True(outcome.HandBack, outcome.Error);
        Assert.StartsWith("the pod was disrupted (DeletionByTaintManager)", outcome.Error, StringComparison.Ordinal);
        Assert.True(await k8s.AttemptGoneAsync(spec));
    }

    [Fact]
    public async Task Broken_log_streams_lose_and_repeat_no_line()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        // Bursts of lines that share a timestamp second, with pauses for the streams to be broken in.
        var spec = KubernetesHarness.Shell("i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo out-$i; echo err-$i >&2; [ $((i % 5)) -eq 0 ] && sleep 0.3; done");
        var logs = new CollectingLogSink();
        var run = k8s.Runtime.RunAsync(spec, logs, CancellationToken.None);
        while (!run.IsCompleted)
        {
            k8s.Fake.DropStreams();
            await Task.Delay(150);
        }

        var outcome = await run;

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"out-{i}"), logs.Stdout);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"err-{i}"), logs.Stderr);
    }

    [Fact]
    public async Task A_broken_read_of_the_result_is_read_again_not_the_job_run_again()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        k8s.Fake.BreakLogReads(JobManifest.ResultContainer, 2);

        var (outcome, _) = await k8s.RunAsync(KubernetesHarness.Shell("""printf '{"n": 7}' > "$JOBPLANE_OUTPUT_DIR/result.json" """));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(7, outcome.Result!.Value.GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task Without_split_streams_both_streams_arrive_as_one_log_in_order()
    {
        await using var k8s = await KubernetesHarness.StartAsync(o => o with { SplitLogStreams = false });

        var (outcome, logs) = await k8s.RunAsync(KubernetesHarness.Shell("echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three"));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(["one", "two", "three"], logs.Stdout);
        Assert.Empty(logs.Stderr);
    }

    [Fact]
    public async Task A_Job_that_exists_for_the_same_attempt_is_adopted_not_created_twice()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        var spec = KubernetesHarness.Shell("""echo adopted; printf '{"n": 1}' > "$JOBPLANE_OUTPUT_DIR/result.json" """);
        // As a create whose answer was lost leaves it: the Job exists before the runtime asks for it.
        Assert.Null(JobManifest.TryBuild(spec, k8s.Options, out var job));
        await k8s.Client.BatchV1.CreateNamespacedJobAsync(job!, KubernetesHarness.Namespace);

        var (outcome, logs) = await k8s.RunAsync(spec);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(1, outcome.Result!.Value.GetProperty("n").GetInt32());
        Assert.Equal(["adopted"], logs.Stdout);
        Assert.Contains(k8s.Logger.Entries, e => e.Message.Contains("is adopted rather than created again", StringComparison.Ordinal));
        // The test's create and the runtime's, answered 409; then the runtime read the Job it found.
        Assert.Equal(2, k8s.Fake.Requests.Count(r => r.Verb == "create" && r.Resource == "jobs"));
        Assert.Equal(1, k8s.Fake.Requests.Count(r => r.Verb == "get" && r.Resource == "jobs"));
        Assert.True(await k8s.AttemptGoneAsync(spec));
    }

    [Fact]
    public async Task The_Job_carries_the_attempts_labels_and_its_traceparent_reaches_the_job()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        const string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var spec = KubernetesHarness.Shell("echo $TRACEPARENT; sleep 1; echo $JOBPLANE_EXECUTION_ID") with
        {
            ExtraEnvironment = new Dictionary<string, string> { ["TRACEPARENT"] = traceparent },
        };
        var labels = new TaskCompletionSource<IDictionary<string, string>>();

        var sink = new OnFirstLine(async () =>
        {
            var job = await k8s.Client.BatchV1.ReadNamespacedJobAsync(JobManifest.NameOf(spec), KubernetesHarness.Namespace);
            labels.SetResult(job.Metadata.Labels);
        });

        var outcome = await k8s.Runtime.RunAsync(spec, sink, CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal([traceparent, spec.ExecutionId.ToString("D")], sink.Logs.Stdout);
        var seen = await labels.Task;
        Assert.Equal(spec.TenantId!.Value.ToString("D"), seen[JobManifest.TenantLabel]);
        Assert.Equal(spec.JobId.ToString("D"), seen[JobManifest.JobLabel]);
        Assert.Equal(spec.ExecutionId.ToString("D"), seen[JobManifest.ExecutionLabel]);
        Assert.Equal("1", seen[JobManifest.AttemptLabel]);
        Assert.Equal(k8s.WorkerId, seen[JobManifest.WorkerLabel]);
        Assert.Equal("none", seen[JobManifest.NetworkLabel]);
    }

    [Fact]
    public async Task The_runtime_uses_exactly_the_verbs_its_Role_grants()
    {
        // Room for a 16 MiB job beside its 128 MiB result container, not for a 64 MiB one.
        await using var k8s = await KubernetesHarness.StartAsync(o => o with
        {
            DefaultLimits = new PodLimits { MemoryBytes = 16L << 20, Cpus = 1 },
            // Long enough for the pods that do schedule to start on a busy machine.
            PendingTimeout = TimeSpan.FromSeconds(10),
        }, new NodeSize(AllocatableMemoryBytes: 180L << 20));

        // Every path that calls the API: start-up clean-up, a Job created twice (adopted), a
        // timeout with a kill after the grace period, a pod that never schedules.
        await k8s.Runtime.CleanupOrphansAsync(CancellationToken.None);
        var adopted = KubernetesHarness.Shell("echo hi");
        Assert.Null(JobManifest.TryBuild(adopted, k8s.Options, out var job));
        var testsOwn = k8s.Fake.Requests.Count;
        await k8s.Client.BatchV1.CreateNamespacedJobAsync(job!, KubernetesHarness.Namespace);
        var first = (await k8s.RunAsync(adopted)).Outcome;
        Assert.True(first.Succeeded, first.Error);
        var second = (await k8s.RunAsync(KubernetesHarness.Shell("trap '' TERM; echo started; sleep 600", TimeSpan.FromSeconds(1)))).Outcome;
        Assert.True(second.TimedOut, second.Error);
        var unschedulable = KubernetesHarness.Spec(["true"]) with { Resources = new ResourceRequest(MemoryBytes: 64L << 20) };
        Assert.StartsWith("the pod did not start", (await k8s.RunAsync(unschedulable)).Outcome.Error, StringComparison.Ordinal);

        // Everything but the test's own create.
        var used = k8s.Fake.Requests.Where((_, i) => i != testsOwn).Select(r => (r.ApiGroup, r.Resource, r.Verb)).ToHashSet();
        var granted = KubernetesPermissions.Rules.SelectMany(r => r.Verbs.Select(v => (r.ApiGroup, r.Resource, v))).ToHashSet();
        Assert.Equal(granted.Order(), used.Order());
        Assert.All(k8s.Fake.Requests, r => Assert.Equal(KubernetesHarness.Namespace, r.Namespace));
    }

    [Fact]
    public async Task A_restarted_worker_finds_its_Jobs_with_their_leases_and_cleanup_spares_the_ones_taken_over()
    {
        await using var k8s = await KubernetesHarness.StartAsync();
        var kept = KubernetesHarness.Shell("sleep 600") with { LeaseToken = Guid.NewGuid() };
        var dropped = KubernetesHarness.Shell("sleep 600") with { LeaseToken = Guid.NewGuid() };
        foreach (var spec in new[] { kept, dropped })
        {
            Assert.Null(JobManifest.TryBuild(spec, k8s.Options, out var job));
            await k8s.Client.BatchV1.CreateNamespacedJobAsync(job!, KubernetesHarness.Namespace);
        }
        // Another worker's Job is not offered.
        await k8s.LeaveJobAsync(k8s.WorkerId + "-other");

        var found = await k8s.Runtime.FindResumableAsync(CancellationToken.None);

        Assert.Equal(
            new[] { (kept.ExecutionId, kept.LeaseToken!.Value), (dropped.ExecutionId, dropped.LeaseToken!.Value) }.Order(),
            found.Select(f => (f.ExecutionId, f.LeaseToken)).Order());
        await k8s.Runtime.CleanupOrphansAsync(new HashSet<Guid> { kept.ExecutionId }, CancellationToken.None);
        Assert.True(await k8s.JobExistsAsync(JobManifest.NameOf(kept)));
        Assert.False(await k8s.JobExistsAsync(JobManifest.NameOf(dropped)));
        await k8s.Runtime.CleanupOrphansAsync(CancellationToken.None);
        Assert.False(await k8s.JobExistsAsync(JobManifest.NameOf(kept)));
        using var client = k8s.Fake.CreateClient();
        foreach (var other in (await client.BatchV1.ListNamespacedJobAsync(KubernetesHarness.Namespace)).Items)
            await client.BatchV1.DeleteNamespacedJobAsync(other.Metadata.Name, KubernetesHarness.Namespace, new k8s.Models.V1DeleteOptions { PropagationPolicy = "Foreground" });
    }

    private static string PodOf(KubernetesHarness k8s, RunSpec spec) =>
        k8s.Client.CoreV1.ListNamespacedPod(KubernetesHarness.Namespace, labelSelector: $"job-name={JobManifest.NameOf(spec)}").Items.Single().Metadata.Name;

    /// <summary>Runs an action (off the sink's thread) once the job's first line arrives, and collects the lines.</summary>
    private sealed class OnFirstLine(Func<Task> action) : ILogSink
    {
        private int _fired;

        public CollectingLogSink Logs { get; } = new();

        public void Write(LogStream stream, string line)
        {
            Logs.Write(stream, line);
            if (Interlocked.Exchange(ref _fired, 1) == 0) _ = Task.Run(action);
        }
    }
}
