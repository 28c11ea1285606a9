using k8s;
using k8s.Models;
using static Jobplane.Testing.Kubernetes.Tests.FakeCluster;

namespace Jobplane.Testing.Kubernetes.Tests;

/// <summary>The fake's one node: scheduling against its size, node-pressure eviction, and its loss.</summary>
public sealed partial class FakeKubernetesTests
{
    private const string NoVictims = " preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";

    [Fact]
    public async Task A_pod_whose_memory_limit_exceeds_the_node_stays_Pending_Unschedulable_and_deleting_its_job_leaves_nothing()
    {
        // The default node: 16 GiB.
        await using var cluster = await StartAsync();
        var name = UniqueName("toobig");
        var container = Shell("job", "echo never");
        // A limit alone: the pod requests it, as the real server defaults a pod.
        container.Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new("20Gi") } };
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, container), Namespace);

        var pod = await cluster.PodOfAsync(name, p => p.Status.Conditions is { Count: > 0 }, "seen by the scheduler");
        const string message = "0/1 nodes are available: 1 Insufficient memory." + NoVictims;
        AssertUnschedulable(pod, message);
        Assert.Equal("20Gi", pod.Spec.Containers[0].Resources.Requests["memory"].ToString());
        var failed = await EventuallyAsync("FailedScheduling event", async () =>
            (await cluster.Client.CoreV1.ListNamespacedEventAsync(Namespace, fieldSelector: $"involvedObject.name={pod.Metadata.Name}"))
            .Items.FirstOrDefault(e => e.Reason == "FailedScheduling"));
        Assert.Equal(("Warning", message), (failed.Type, failed.Message));
        Assert.Equal(("Pod", pod.Metadata.Uid), (failed.InvolvedObject.Kind, failed.InvolvedObject.Uid));
        Assert.Equal("default-scheduler", failed.Source.Component);
        // The Job counts a pending pod as active.
        Assert.Equal(1, (await cluster.Client.BatchV1.ReadNamespacedJobAsync(name, Namespace)).Status.Active);

        // Nothing of it runs: no container, an empty log (no kubelet to ask), and nothing to evict or lose.
        Assert.Equal(0, await cluster.ContainersAsync());
        using (var log = await cluster.Client.CoreV1.ReadNamespacedPodLogAsync(pod.Metadata.Name, Namespace, container: "job"))
        using (var reader = new StreamReader(log))
            Assert.Equal("", await reader.ReadToEndAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.Fake.EvictPod(Namespace, pod.Metadata.Name));
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.Fake.LoseNode(Namespace, pod.Metadata.Name));
        AssertUnschedulable(await cluster.Client.CoreV1.ReadNamespacedPodAsync(pod.Metadata.Name, Namespace), message);

        await cluster.Client.BatchV1.DeleteNamespacedJobAsync(name, Namespace, propagationPolicy: "Background");
        await EventuallyAsync("pod gone", async () =>
            (await cluster.Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"job-name={name}")).Items.Count == 0 ? "" : null);
        Assert.Empty((await cluster.Client.BatchV1.ListNamespacedJobAsync(Namespace)).Items);
        Assert.Equal(0, await cluster.ContainersAsync());
    }

    [Fact]
    public async Task A_pod_requesting_more_cpu_than_a_small_node_is_Unschedulable_and_deleting_it_fails_its_job()
    {
        await using var cluster = await StartAsync(new NodeSize(AllocatableMemoryBytes: 1L << 30, AllocatableCpus: 1));
        Assert.Equal(1m, cluster.Fake.Node.AllocatableCpus);
        var name = UniqueName("toomanycpus");
        var container = Shell("job", "echo never");
        container.Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1500m") } };
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, container), Namespace);

        var pod = await cluster.PodOfAsync(name, p => p.Status.Conditions is { Count: > 0 }, "seen by the scheduler");
        AssertUnschedulable(pod, "0/1 nodes are available: 1 Insufficient cpu." + NoVictims);

        // Never bound to a node, the pod goes at once, whatever its grace period; its Job counts it failed.
        await cluster.Client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, Namespace);
        await EventuallyAsync("pod gone", async () =>
            (await cluster.Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"job-name={name}")).Items.Count == 0 ? "" : null);
        var job = await cluster.FinishedJobAsync(name);
        Assert.Equal("BackoffLimitExceeded", Assert.Single(job.Status.Conditions, c => c.Type == "Failed").Reason);
        Assert.Equal((1, 0), (job.Status.Failed, job.Status.Active));
        Assert.Equal(0, await cluster.ContainersAsync());
    }

    [Fact]
    public async Task On_a_small_node_init_container_requests_count_as_their_largest_while_main_container_requests_add_up()
    {
        await using var cluster = await StartAsync(new NodeSize(AllocatableMemoryBytes: 100L << 20));
        static V1Container Requesting(string name, string memory)
        {
            var container = Shell(name, "true");
            container.Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["memory"] = new(memory) } };
            return container;
        }

        // 60Mi, then 60Mi: never both at once, so the pod needs 60Mi of the node's 100Mi.
        var fits = UniqueName("fits");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(
            Job(fits, Requesting("job", "60Mi"), pod => pod.InitContainers = [Requesting("init", "60Mi")]), Namespace);
        // 60Mi and 60Mi together: 120Mi.
        var both = UniqueName("both");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(
            Job(both, Requesting("job", "60Mi"), pod => pod.Containers.Add(Requesting("sidecar", "60Mi"))), Namespace);

        var finished = await cluster.FinishedJobAsync(fits);
        Assert.Contains(finished.Status.Conditions, c => c.Type == "Complete" && c.Status == "True");
        var pod = await cluster.PodOfAsync(both, p => p.Status.Conditions is { Count: > 0 }, "seen by the scheduler");
        AssertUnschedulable(pod, "0/1 nodes are available: 1 Insufficient memory." + NoVictims);
    }

    [Fact]
    public async Task An_evicted_pod_fails_with_reason_Evicted_and_a_DisruptionTarget_and_its_job_fails()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("evicted");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "echo before; sleep 60")), Namespace);
        var running = await cluster.PodOfAsync(name, p => p.Status.Phase == "Running", "running");
        var podName = running.Metadata.Name;

        await cluster.Fake.EvictPod(Namespace, podName);

        var pod = await cluster.Client.CoreV1.ReadNamespacedPodAsync(podName, Namespace);
        Assert.Equal(("Failed", "Evicted", "The node was low on resource: memory."), (pod.Status.Phase, pod.Status.Reason, pod.Status.Message));
        var disruption = Assert.Single(pod.Status.Conditions, c => c.Type == "DisruptionTarget");
        Assert.Equal(("True", "TerminationByKubelet"), (disruption.Status, disruption.Reason));
        var terminated = Assert.Single(pod.Status.ContainerStatuses).State.Terminated;
        Assert.Equal((137, "Error"), (terminated.ExitCode, terminated.Reason));
        Assert.Contains(pod.Status.Conditions, c => c.Type == "Ready" && c.Status == "False");

        var job = await cluster.FinishedJobAsync(name);
        Assert.Equal("BackoffLimitExceeded", Assert.Single(job.Status.Conditions, c => c.Type == "Failed").Reason);
        Assert.Equal((1, 0), (job.Status.Failed, job.Status.Active));
        var events = await cluster.Client.CoreV1.ListNamespacedEventAsync(Namespace, fieldSelector: $"involvedObject.name={podName}");
        Assert.Contains(events.Items, e => e.Type == "Warning" && e.Reason == "Evicted" && e.Message == "The node was low on resource: memory.");

        // Like any failed pod's, its container is kept, exited, with its log, until the pod is deleted.
        Assert.Equal("before\n", await cluster.FollowLogAsync(podName, "job"));
        var kept = Assert.Single(await TestDocker.ContainersLabelledAsync(FakeKubernetes.InstanceLabel, cluster.Fake.Instance));
        Assert.Equal("exited", kept.State);
        // A kubelet evicts only the pods it runs.
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.Fake.EvictPod(Namespace, podName, "again"));
    }

    [Fact]
    public async Task Losing_the_node_of_a_pod_marks_it_DisruptionTarget_then_deletes_it_and_its_job_fails()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("lost");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "sleep 60")), Namespace);
        var running = await cluster.PodOfAsync(name, p => p.Status.Phase == "Running", "running");
        var podName = running.Metadata.Name;
        using var limit = new CancellationTokenSource(Limit);
        var seen = new List<(WatchEventType Type, V1Pod Pod)>();
        // From the version read, so that no change can slip between the read and the watch.
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, pod) in cluster.Client.CoreV1.WatchListNamespacedPodAsync(
                               Namespace, fieldSelector: $"metadata.name={podName}", resourceVersion: running.Metadata.ResourceVersion,
                               cancellationToken: limit.Token))
            {
                seen.Add((type, pod));
                if (type == WatchEventType.Deleted) return;
            }
        });

        await cluster.Fake.LoseNode(Namespace, podName);
        await watching.WaitAsync(Limit);

        Assert.Equal(WatchEventType.Deleted, seen[^1].Type);
        Assert.All(seen.Take(seen.Count - 1), e => Assert.Equal(WatchEventType.Modified, e.Type));
        var marked = seen.First(e => e.Pod.Status.Conditions.Any(c => c.Type == "DisruptionTarget")).Pod;
        var disruption = Assert.Single(marked.Status.Conditions, c => c.Type == "DisruptionTarget");
        Assert.Equal(("True", "DeletionByTaintManager"), (disruption.Status, disruption.Reason));
        Assert.Contains(marked.Status.Conditions, c => c.Type == "Ready" && c.Status == "False");
        Assert.NotNull(seen[^1].Pod.Metadata.DeletionTimestamp);
        Assert.Contains(seen[^1].Pod.Status.Conditions, c => c.Type == "DisruptionTarget");

        var job = await cluster.FinishedJobAsync(name);
        Assert.Equal("BackoffLimitExceeded", Assert.Single(job.Status.Conditions, c => c.Type == "Failed").Reason);
        Assert.Equal((1, 0), (job.Status.Failed, job.Status.Active));
        Assert.Empty((await cluster.Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"job-name={name}")).Items);
        Assert.Equal(0, await cluster.ContainersAsync());
        var events = await cluster.Client.CoreV1.ListNamespacedEventAsync(Namespace, fieldSelector: $"involvedObject.name={podName}");
        Assert.Contains(events.Items, e => e.Reason == "TaintManagerEviction");
    }

    private static void AssertUnschedulable(V1Pod pod, string message)
    {
        Assert.Equal("Pending", pod.Status.Phase);
        var scheduled = Assert.Single(pod.Status.Conditions);
        Assert.Equal(("PodScheduled", "False", "Unschedulable", message), (scheduled.Type, scheduled.Status, scheduled.Reason, scheduled.Message));
        Assert.Null(pod.Spec.NodeName);
        Assert.Null(pod.Status.ContainerStatuses);
        Assert.Null(pod.Status.StartTime);
    }
}
