using System.Globalization;
using System.Net;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using static Jobplane.Testing.Kubernetes.Tests.FakeCluster;

namespace Jobplane.Testing.Kubernetes.Tests;

/// <summary>The fake through the official client, with its pods running as real containers.</summary>
public sealed partial class FakeKubernetesTests
{
    [Fact]
    public async Task A_failing_job_reports_its_exit_code_and_its_followed_log_reads_to_the_end()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("fails");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(
            Job(name, Shell("job", "echo out-1; echo err-1 >&2; sleep 1; echo out-2; exit 3")), Namespace);

        var running = await cluster.PodOfAsync(name, p => p.Status.Phase is "Running" or "Failed", "started");
        var log = (await cluster.FollowLogAsync(running.Metadata.Name, "job")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // stdout and stderr merged; as on a real node, only each stream's own order is kept.
        Assert.Equal(["out-1", "out-2"], log.Where(l => l.StartsWith("out", StringComparison.Ordinal)));
        Assert.Equal(["err-1", "out-1", "out-2"], log.Order(StringComparer.Ordinal));

        var job = await cluster.FinishedJobAsync(name);
        var failed = Assert.Single(job.Status.Conditions, c => c.Type == "Failed");
        Assert.Equal("BackoffLimitExceeded", failed.Reason);
        Assert.Equal(1, job.Status.Failed);
        Assert.Equal(0, job.Status.Active);
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Failed", "failed");
        Assert.Equal(name, pod.Metadata.Labels["job-name"]);
        Assert.Equal(name, pod.Metadata.Labels["jobplane.dev/test"]);
        var terminated = Assert.Single(pod.Status.ContainerStatuses).State.Terminated;
        Assert.Equal(3, terminated.ExitCode);
        Assert.Equal("Error", terminated.Reason);
    }

    [Fact]
    public async Task Init_container_runs_to_completion_before_the_main_container_and_they_share_an_emptyDir()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("init");
        var locked = new V1SecurityContext
        {
            RunAsUser = 1000,
            RunAsGroup = 1000,
            RunAsNonRoot = true,
            ReadOnlyRootFilesystem = true,
            AllowPrivilegeEscalation = false,
            Capabilities = new V1Capabilities { Drop = ["ALL"] },
        };
        var job = Shell("job", "if touch /root-is-writable 2>/dev/null; then exit 9; fi; sleep 1; echo '{\"answer\":42}' > /jobplane/out/result.json");
        job.SecurityContext = locked;
        job.VolumeMounts = [new V1VolumeMount { Name = "out", MountPath = "/jobplane/out" }];
        var result = Shell("result", "cat /jobplane/out/result.json; id -u; grep NoNewPrivs /proc/self/status; grep CapEff /proc/self/status; ls /sys/class/net");
        result.SecurityContext = locked;
        result.VolumeMounts = [new V1VolumeMount { Name = "out", MountPath = "/jobplane/out", ReadOnlyProperty = true }];
        var spec = Job(name, result, pod =>
        {
            pod.InitContainers = [job];
            pod.Volumes = [new V1Volume { Name = "out", EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity("2Mi") } }];
        });
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(spec, Namespace);

        var initializing = await cluster.PodOfAsync(name, p => p.Status.InitContainerStatuses?[0].State?.Running is not null, "initializing");
        Assert.Equal("Pending", initializing.Status.Phase);
        Assert.NotNull(initializing.Status.ContainerStatuses[0].State.Waiting);

        var finished = await cluster.FinishedJobAsync(name);
        Assert.Contains(finished.Status.Conditions, c => c.Type == "Complete" && c.Status == "True");
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Succeeded", "succeeded");
        var init = pod.Status.InitContainerStatuses[0].State.Terminated;
        var main = pod.Status.ContainerStatuses[0].State.Terminated;
        Assert.Equal((0, "Completed"), (init.ExitCode, init.Reason));
        Assert.Equal((0, "Completed"), (main.ExitCode, main.Reason));
        Assert.True(init.FinishedAt <= main.StartedAt, $"init finished {init.FinishedAt:O}, main started {main.StartedAt:O}");

        var lines = (await cluster.FollowLogAsync(pod.Metadata.Name, "result")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("{\"answer\":42}", lines[0]);
        Assert.Equal("1000", lines[1]);
        Assert.Equal("NoNewPrivs:\t1", lines[2]);
        Assert.Equal("CapEff:\t0000000000000000", lines[3]);
        // No network but loopback.
        Assert.Equal("lo", lines[4]);
    }

    [Fact]
    public async Task Creating_a_job_whose_name_is_taken_answers_409_AlreadyExists()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("twice");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "true")), Namespace);

        var e = await Assert.ThrowsAsync<HttpOperationException>(() =>
            cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "true")), Namespace));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        var status = KubernetesJson.Deserialize<V1Status>(e.Response.Content);
        Assert.Equal("AlreadyExists", status.Reason);
        Assert.Equal(409, status.Code);
        Assert.Single((await cluster.Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"job-name={name}")).Items);
    }

    [Fact]
    public async Task A_watch_sees_the_job_added_then_modified_until_complete_and_resumes_from_a_resourceVersion()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("watched");
        var seen = new List<(WatchEventType Type, V1Job Job)>();
        using var limit = new CancellationTokenSource(Limit);
        var watching = Task.Run(async () =>
        {
            var events = cluster.Client.BatchV1.WatchListNamespacedJobAsync(
                Namespace, labelSelector: "app.kubernetes.io/managed-by=jobplane", cancellationToken: limit.Token);
            await foreach (var (type, job) in events)
            {
                seen.Add((type, job));
                if (job.Status?.Conditions?.Any(c => c.Type == "Complete") == true) return;
            }
        });
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "sleep 1")), Namespace);
        await watching.WaitAsync(Limit);

        Assert.Equal(WatchEventType.Added, seen[0].Type);
        Assert.All(seen.Skip(1), e => Assert.Equal(WatchEventType.Modified, e.Type));
        Assert.Contains(seen, e => e.Job.Status?.Active == 1);
        Assert.Contains(seen[^1].Job.Status.Conditions, c => c.Type == "Complete");

        // Resuming after the first event replays every later change, and only those.
        var replayed = new List<(WatchEventType Type, V1Job Job)>();
        var resumed = cluster.Client.BatchV1.WatchListNamespacedJobAsync(
            Namespace, fieldSelector: $"metadata.name={name}", resourceVersion: seen[0].Job.Metadata.ResourceVersion, timeoutSeconds: 1,
            cancellationToken: limit.Token);
        await foreach (var e in resumed) replayed.Add(e);
        Assert.Equal(seen.Skip(1).Select(e => e.Job.Metadata.ResourceVersion), replayed.Select(e => e.Job.Metadata.ResourceVersion));
    }

    [Theory]
    [InlineData("Foreground")]
    [InlineData("Background")]
    public async Task Deleting_a_job_with_propagation_deletes_its_pods_and_their_containers(string propagation)
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("deleted");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "sleep 60")), Namespace);
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Running", "running");
        Assert.Equal(1, await cluster.ContainersAsync(pod.Metadata.Name));

        await cluster.Client.BatchV1.DeleteNamespacedJobAsync(name, Namespace, propagationPolicy: propagation);

        await EventuallyAsync("pods gone", async () =>
            (await cluster.Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"job-name={name}")).Items.Count == 0 ? "" : null);
        await EventuallyAsync("job gone", async () =>
            (await cluster.Client.BatchV1.ListNamespacedJobAsync(Namespace, fieldSelector: $"metadata.name={name}")).Items.Count == 0 ? "" : null);
        Assert.Equal(0, await cluster.ContainersAsync());
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => cluster.Client.BatchV1.ReadNamespacedJobAsync(name, Namespace));
        Assert.Equal(HttpStatusCode.NotFound, e.Response.StatusCode);
    }

    [Fact]
    public async Task Deleting_a_job_without_a_propagation_policy_orphans_its_pod_which_a_pod_delete_then_removes()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("orphan");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "sleep 60")), Namespace);
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Running", "running");

        // batch/v1 Jobs are orphaned by default, as on a real server: the pod goes on running.
        await cluster.Client.BatchV1.DeleteNamespacedJobAsync(name, Namespace);
        var orphan = await cluster.PodOfAsync(name, p => p.Metadata.OwnerReferences is null, "orphaned");
        Assert.Equal("Running", orphan.Status.Phase);
        Assert.Equal(1, await cluster.ContainersAsync(pod.Metadata.Name));

        var deleting = await cluster.Client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, Namespace, gracePeriodSeconds: 0);
        Assert.NotNull(deleting.Metadata.DeletionTimestamp);
        await EventuallyAsync("pod gone", async () =>
            (await cluster.Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: $"job-name={name}")).Items.Count == 0 ? "" : null);
        Assert.Equal(0, await cluster.ContainersAsync());
    }

    [Fact]
    public async Task A_job_with_an_invalid_label_value_is_refused_with_422_Invalid()
    {
        await using var cluster = await StartAsync();
        var job = Job(UniqueName("badlabel"), Shell("job", "true"));
        job.Spec.Template.Metadata.Labels["jobplane.dev/worker"] = "worker 1/with spaces";

        var e = await Assert.ThrowsAsync<HttpOperationException>(() => cluster.Client.BatchV1.CreateNamespacedJobAsync(job, Namespace));

        Assert.Equal((HttpStatusCode)422, e.Response.StatusCode);
        var status = KubernetesJson.Deserialize<V1Status>(e.Response.Content);
        Assert.Equal("Invalid", status.Reason);
        Assert.Contains("worker 1/with spaces", status.Message, StringComparison.Ordinal);
        Assert.Empty((await cluster.Client.CoreV1.ListNamespacedPodAsync(Namespace)).Items);
    }

    [Fact]
    public async Task A_container_over_its_memory_limit_is_OOMKilled()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("hungry");
        var container = new V1Container
        {
            Name = "job",
            Image = TestDocker.Image,
            Command = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
            Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new("16Mi") } },
        };
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, container), Namespace);

        await cluster.FinishedJobAsync(name);
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Failed", "failed");
        var terminated = pod.Status.ContainerStatuses[0].State.Terminated;
        Assert.Equal((137, "OOMKilled"), (terminated.ExitCode, terminated.Reason));
    }

    [Fact]
    public async Task A_job_past_its_activeDeadlineSeconds_fails_with_DeadlineExceeded_and_its_containers_are_gone()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("late");
        // The deadline counts from the job's start, so it leaves the container time to start first on a
        // loaded machine (with 2 s a slow start met the deadline before the pod was seen running).
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "sleep 60"), deadline: 8), Namespace);
        await cluster.PodOfAsync(name, p => p.Status.Phase == "Running", "running");

        var job = await cluster.FinishedJobAsync(name);
        Assert.Equal("DeadlineExceeded", Assert.Single(job.Status.Conditions, c => c.Type == "Failed").Reason);
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Failed", "failed");
        Assert.Equal("DeadlineExceeded", pod.Status.Reason);
        Assert.Equal(0, await cluster.ContainersAsync(pod.Metadata.Name));
    }

    [Fact]
    public async Task A_missing_image_is_ErrImagePull_and_the_pod_stays_pending()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("noimage");
        var container = new V1Container { Name = "job", Image = "jobplane-test/no-such-image:1", Command = ["true"] };
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, container), Namespace);

        var pod = await cluster.PodOfAsync(name, p => p.Status.ContainerStatuses[0].State.Waiting?.Reason is "ErrImagePull" or "ImagePullBackOff", "waiting on its image");
        Assert.Equal("Pending", pod.Status.Phase);
        var events = await cluster.Client.CoreV1.ListNamespacedEventAsync(Namespace, fieldSelector: $"involvedObject.name={pod.Metadata.Name}");
        Assert.Contains(events.Items, e => e.Type == "Warning" && e.Reason == "Failed" && e.Message.Contains("no-such-image", StringComparison.Ordinal));
        Assert.Equal(0, await cluster.ContainersAsync());
    }

    [Fact]
    public async Task A_body_with_an_unknown_field_is_refused_with_400_and_a_Status()
    {
        await using var cluster = await StartAsync();
        var body = KubernetesJson.Serialize(Job(UniqueName("strict"), Shell("job", "true")))
            .Replace("\"backoffLimit\":0", "\"backoffLimit\":0,\"backofLimit\":1", StringComparison.Ordinal);
        using var http = new HttpClient { BaseAddress = new Uri(cluster.Fake.Host) };

        using var response = await http.PostAsync($"/apis/batch/v1/namespaces/{Namespace}/jobs", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var status = KubernetesJson.Deserialize<V1Status>(await response.Content.ReadAsStringAsync());
        Assert.Equal(("Status", "Failure", "BadRequest"), (status.Kind, status.Status, status.Reason));
        Assert.Contains("unknown field \"spec.backofLimit\"", status.Message, StringComparison.Ordinal);
        Assert.Empty((await cluster.Client.BatchV1.ListNamespacedJobAsync(Namespace)).Items);
    }

    [Fact]
    public async Task A_log_read_with_timestamps_resumes_from_sinceTime_at_the_line_it_names()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("resume");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(
            Job(name, Shell("job", "for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done")), Namespace);
        await cluster.FinishedJobAsync(name);
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Succeeded", "succeeded");
        using var http = new HttpClient { BaseAddress = new Uri(cluster.Fake.Host) };
        var path = $"/api/v1/namespaces/{Namespace}/pods/{pod.Metadata.Name}/log?container=job&timestamps=true";

        var all = (await http.GetStringAsync(path)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, all.Length);
        var third = all[2].Split(' ', 2);
        Assert.Equal("line-3", third[1]);
        Assert.True(DateTimeOffset.TryParse(third[0], CultureInfo.InvariantCulture, out _), third[0]);

        var resumed = (await http.GetStringAsync($"{path}&sinceTime={Uri.EscapeDataString(third[0])}")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(all[2..], resumed);
    }

    [Fact]
    public async Task A_dropped_log_stream_breaks_while_the_container_runs_and_resumes_from_sinceTime()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("dropped");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(
            Job(name, Shell("job", "echo before; sleep 2; echo after; sleep 60")), Namespace);
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Running", "running");
        using var http = new HttpClient { BaseAddress = new Uri(cluster.Fake.Host), Timeout = Limit };
        var path = $"/api/v1/namespaces/{Namespace}/pods/{pod.Metadata.Name}/log?container=job&timestamps=true&follow=true";

        using var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var first = await reader.ReadLineAsync().WaitAsync(Limit);
        Assert.EndsWith(" before", first, StringComparison.Ordinal);
        cluster.Fake.DropStreams();
        await Assert.ThrowsAnyAsync<IOException>(() => reader.ReadToEndAsync().WaitAsync(Limit));

        var since = Uri.EscapeDataString(first!.Split(' ')[0]);
        using var resumed = await http.GetAsync($"{path}&sinceTime={since}", HttpCompletionOption.ResponseHeadersRead);
        using var again = new StreamReader(await resumed.Content.ReadAsStreamAsync());
        Assert.Equal(first, await again.ReadLineAsync().WaitAsync(Limit));
        Assert.EndsWith(" after", await again.ReadLineAsync().WaitAsync(Limit), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_watch_from_a_compacted_resourceVersion_gets_an_ERROR_event_with_410_Expired()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("compacted");
        var created = await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "true")), Namespace);
        await cluster.FinishedJobAsync(name);
        cluster.Fake.CompactHistory();
        using var http = new HttpClient { BaseAddress = new Uri(cluster.Fake.Host), Timeout = Limit };

        var line = (await http.GetStringAsync(
            $"/apis/batch/v1/namespaces/{Namespace}/jobs?watch=true&resourceVersion={created.Metadata.ResourceVersion}&timeoutSeconds=5")).Trim();

        using var e = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("ERROR", e.RootElement.GetProperty("type").GetString());
        Assert.Equal(410, e.RootElement.GetProperty("object").GetProperty("code").GetInt32());
        Assert.Equal("Expired", e.RootElement.GetProperty("object").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Every_request_is_recorded_as_an_RBAC_verb_on_a_namespaced_resource()
    {
        await using var cluster = await StartAsync();
        var name = UniqueName("verbs");
        await cluster.Client.BatchV1.CreateNamespacedJobAsync(Job(name, Shell("job", "echo hi")), Namespace);
        await cluster.FinishedJobAsync(name);
        await cluster.Client.BatchV1.ListNamespacedJobAsync(Namespace, labelSelector: "app.kubernetes.io/managed-by=jobplane");
        var pod = await cluster.PodOfAsync(name, p => p.Status.Phase == "Succeeded", "succeeded");
        await cluster.Client.CoreV1.ReadNamespacedPodAsync(pod.Metadata.Name, Namespace);
        Assert.Equal("hi\n", await cluster.FollowLogAsync(pod.Metadata.Name, "job"));
        await cluster.Client.CoreV1.ListNamespacedEventAsync(Namespace);
        var watched = 0;
        await foreach (var _ in cluster.Client.CoreV1.WatchListNamespacedPodAsync(Namespace, labelSelector: $"job-name={name}", timeoutSeconds: 1))
        {
            watched++;
        }
        Assert.Equal(1, watched);
        await cluster.Client.BatchV1.DeleteNamespacedJobAsync(name, Namespace, propagationPolicy: "Background");

        var used = cluster.Fake.Requests.Distinct().Select(r => r.ToString()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
        [
            "create batch/jobs in jobs",
            "delete batch/jobs in jobs",
            "get batch/jobs in jobs",
            "get core/pods in jobs",
            "get core/pods/log in jobs",
            "list batch/jobs in jobs",
            "list core/events in jobs",
            "list core/pods in jobs",
            "watch core/pods in jobs",
        ], used);
    }
}
