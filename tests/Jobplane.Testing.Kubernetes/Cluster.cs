using System.Collections.Concurrent;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Jobplane.Worker.Runtimes;
using k8s;
using k8s.Models;

namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// The control plane behind the API: the job controller (one pod per attempt, backoffLimit
/// retries, the Job's status and conditions, its deadline and its TTL), the scheduler (a pod whose
/// requests exceed the one node stays Pending), the garbage collector (deleting a Job with
/// Foreground or Background propagation deletes its pods; Orphan leaves them), the pods' kubelets
/// (with node-pressure eviction), the taint manager (a lost node's pods are deleted), and the
/// events they record.
/// </summary>
internal sealed class Cluster : IAsyncDisposable
{
    private const string GeneratedNameChars = "bcdfghjklmnpqrstvwxz2456789";
    private const string SchedulerComponent = "default-scheduler";

    private readonly ConcurrentDictionary<(string Ns, string Name), PodRunner> _pods = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _oom = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<Task> _background = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _oomListening;

    public Cluster(DockerClient docker, string instance, string sandboxImage, TimeProvider time, NodeSize node)
    {
        SandboxImage = sandboxImage;
        Node = node;
        Docker = docker;
        Instance = instance;
        Time = time;
        Store = new ObjectStore(time);
        _oomListening = ListenForOomAsync();
    }

    public DockerClient Docker { get; }
    public string Instance { get; }
    /// <summary>The image of the pods' sandbox containers: it needs sh and sleep.</summary>
    public string SandboxImage { get; }
    public TimeProvider Time { get; }
    /// <summary>What the one node offers the scheduler.</summary>
    public NodeSize Node { get; }
    public ObjectStore Store { get; }

    public PodRunner? Pod(string ns, string name) => _pods.TryGetValue((ns, name), out var runner) ? runner : null;

    /// <summary>Stores a new, validated Job and starts its first pod; null when the name is taken.</summary>
    public string? CreateJob(V1Job job)
    {
        var now = Time.GetUtcNow();
        if (!Store.TryAdd("jobs", job, out var json)) return null;
        Store.TryUpdate<V1Job>("jobs", job.Metadata.NamespaceProperty, job.Metadata.Name, j =>
        {
            j.Status = new V1JobStatus { StartTime = now.UtcDateTime, Active = 0, Ready = 0, Terminating = 0 };
            return true;
        });
        StartPod(job.Metadata.NamespaceProperty, job.Metadata.Name);
        return json;
    }

    /// <summary>Creates the next pod of a Job and starts it; returns its name.</summary>
    private string? StartPod(string ns, string jobName)
    {
        var made = Store.Read<V1Job, (V1Pod Pod, DateTimeOffset? Deadline, string? Unschedulable)?>("jobs", ns, jobName, job =>
        {
            var template = KubernetesJson.Deserialize<V1PodTemplateSpec>(KubernetesJson.Serialize(job.Spec.Template));
            var labels = new Dictionary<string, string>(template.Metadata?.Labels ?? new Dictionary<string, string>());
            var baseName = jobName.Length > 57 ? jobName[..57] : jobName;
            var pod = new V1Pod
            {
                ApiVersion = "v1",
                Kind = "Pod",
                Metadata = new V1ObjectMeta
                {
                    Name = $"{baseName}-{RandomSuffix()}",
                    NamespaceProperty = ns,
                    Labels = labels,
                    Annotations = template.Metadata?.Annotations,
                    OwnerReferences =
                    [
                        new V1OwnerReference
                        {
                            ApiVersion = "batch/v1", Kind = "Job", Name = jobName, Uid = job.Metadata.Uid,
                            Controller = true, BlockOwnerDeletion = true,
                        },
                    ],
                },
                Spec = template.Spec,
                Status = new V1PodStatus { Phase = "Pending", QosClass = "BestEffort" },
            };
            Scheduler.DefaultRequestsFromLimits(pod.Spec);
            var now = Time.GetUtcNow().UtcDateTime;
            var unschedulable = Scheduler.Unschedulable(pod.Spec, Node);
            if (unschedulable is not null)
            {
                // Never bound to the node, so no kubelet ever reports on it: no container statuses,
                // no other condition.
                PodRunner.SetCondition(pod, "PodScheduled", "False", "Unschedulable", now, unschedulable);
            }
            else
            {
                pod.Spec.NodeName = Scheduler.NodeName;
                pod.Status.InitContainerStatuses = template.Spec.InitContainers?.Select(c => Waiting(c, "PodInitializing")).ToList();
                pod.Status.ContainerStatuses = template.Spec.Containers.Select(c => Waiting(c, "PodInitializing")).ToList();
                PodRunner.SetCondition(pod, "PodScheduled", "True", null, now);
                PodRunner.SetCondition(pod, "Initialized", pod.Spec.InitContainers is { Count: > 0 } ? "False" : "True", "ContainersNotInitialized", now);
                PodRunner.SetCondition(pod, "Ready", "False", "ContainersNotReady", now);
                PodRunner.SetCondition(pod, "ContainersReady", "False", "ContainersNotReady", now);
            }
            DateTimeOffset? deadline = null;
            if (job.Spec.ActiveDeadlineSeconds is { } jobSeconds && job.Status?.StartTime is { } startTime)
                deadline = new DateTimeOffset(DateTime.SpecifyKind(startTime, DateTimeKind.Utc)).AddSeconds(jobSeconds);
            if (pod.Spec.ActiveDeadlineSeconds is { } podSeconds)
            {
                var podDeadline = Time.GetUtcNow().AddSeconds(podSeconds);
                if (deadline is null || podDeadline < deadline) deadline = podDeadline;
            }
            return (pod, deadline, unschedulable);
        });
        if (made is not { } m) return null;
        if (!Store.TryAdd("pods", m.Pod, out _)) return null;
        var name = m.Pod.Metadata.Name;
        var runner = new PodRunner(this, m.Pod, m.Deadline, scheduled: m.Unschedulable is null) { JobName = jobName };
        _pods[(ns, name)] = runner;
        Store.TryUpdate<V1Job>("jobs", ns, jobName, job =>
        {
            job.Status.Active = (job.Status.Active ?? 0) + 1;
            return true;
        });
        RecordEvent(ns, "Job", jobName, "Normal", "SuccessfulCreate", $"Created pod: {name}");
        if (m.Unschedulable is { } why)
            RecordEvent(ns, "Pod", name, "Warning", "FailedScheduling", why, SchedulerComponent);
        else
            RecordEvent(ns, "Pod", name, "Normal", "Scheduled", $"Successfully assigned {ns}/{name} to {Scheduler.NodeName}", SchedulerComponent);
        runner.Start();
        return name;
    }

    private static V1ContainerStatus Waiting(V1Container container, string reason) => new()
    {
        Name = container.Name,
        Image = container.Image,
        ImageID = "",
        Ready = false,
        Started = false,
        RestartCount = 0,
        State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason } },
    };

    /// <summary>The job controller's answer to a pod that ended: retry within backoffLimit, or finish the Job.</summary>
    public void PodEnded(string ns, string podName, string? jobName, PodEnd end)
    {
        if (jobName is null) return;
        var retry = false;
        var finished = false;
        int? ttl = null;
        Store.TryUpdate<V1Job>("jobs", ns, jobName, job =>
        {
            if (job.Metadata.DeletionTimestamp is not null || IsFinished(job)) return false;
            var now = Time.GetUtcNow().UtcDateTime;
            job.Status.Active = Math.Max(0, (job.Status.Active ?? 0) - 1);
            if (end == PodEnd.Succeeded)
            {
                job.Status.Succeeded = (job.Status.Succeeded ?? 0) + 1;
                job.Status.CompletionTime = now;
                job.Status.Conditions =
                [
                    Condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", now),
                    Condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", now),
                ];
                finished = true;
            }
            else
            {
                job.Status.Failed = (job.Status.Failed ?? 0) + 1;
                if (end == PodEnd.DeadlineExceeded)
                {
                    job.Status.Conditions =
                    [
                        Condition("FailureTarget", "DeadlineExceeded", "Job was active longer than specified deadline", now),
                        Condition("Failed", "DeadlineExceeded", "Job was active longer than specified deadline", now),
                    ];
                    finished = true;
                }
                else if (job.Status.Failed > (job.Spec.BackoffLimit ?? 6))
                {
                    job.Status.Conditions =
                    [
                        Condition("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now),
                        Condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now),
                    ];
                    finished = true;
                }
                else
                {
                    retry = true;
                }
            }
            ttl = job.Spec.TtlSecondsAfterFinished;
            return true;
        });
        if (retry) StartPod(ns, jobName);
        if (!finished) return;
        var reason = Store.Read<V1Job, string>("jobs", ns, jobName, j => j.Status.Conditions[^1].Reason) ?? "";
        RecordEvent(ns, "Job", jobName, end == PodEnd.Succeeded ? "Normal" : "Warning", end == PodEnd.Succeeded ? "Completed" : reason,
            end == PodEnd.Succeeded ? "Job completed" : $"Job failed: {reason}");
        if (ttl is { } seconds) Track(ExpireAsync(ns, jobName, TimeSpan.FromSeconds(seconds)));
    }

    private async Task ExpireAsync(string ns, string jobName, TimeSpan ttl)
    {
        try
        {
            await Task.Delay(ttl, Time, _stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        await DeleteJobAsync(ns, jobName, "Background");
    }

    public static bool IsFinished(V1Job job) =>
        job.Status?.Conditions?.Any(c => c.Type is "Complete" or "Failed" && c.Status == "True") == true;

    private static V1JobCondition Condition(string type, string reason, string message, DateTime now) => new()
    {
        Type = type,
        Status = "True",
        Reason = reason,
        Message = message,
        LastProbeTime = now,
        LastTransitionTime = now,
    };

    /// <summary>
    /// Deletes a Job as the garbage collector would for the propagation policy: Foreground keeps the
    /// Job (with a deletionTimestamp) until its pods are gone, Background deletes it at once and its
    /// pods after, Orphan leaves the pods running. Returns the response body's JSON, or null when
    /// there is no such Job.
    /// </summary>
    public async Task<string?> DeleteJobAsync(string ns, string name, string propagation)
    {
        var pods = _pods.Where(p => p.Key.Ns == ns && p.Value.JobName == name).Select(p => p.Key.Name).ToList();
        if (propagation == "Foreground")
        {
            string? json = null;
            var found = Store.TryUpdate<V1Job>("jobs", ns, name, job =>
            {
                if (job.Metadata.DeletionTimestamp is not null) return false;
                job.Metadata.DeletionTimestamp = Time.GetUtcNow().UtcDateTime;
                job.Metadata.Finalizers = ["foregroundDeletion"];
                return true;
            });
            if (!found) return null;
            json = Store.GetJson("jobs", ns, name);
            Track(Task.Run(async () =>
            {
                await Task.WhenAll(pods.Select(p => DeletePodAsync(ns, p, null)));
                Store.TryRemove("jobs", ns, name, out _);
            }));
            return json;
        }
        var uid = Store.Read<V1Job, string>("jobs", ns, name, j => j.Metadata.Uid);
        if (uid is null || !Store.TryRemove("jobs", ns, name, out _)) return null;
        if (propagation == "Orphan")
        {
            foreach (var pod in pods)
            {
                Pod(ns, pod)?.Orphan();
                Store.TryUpdate<V1Pod>("pods", ns, pod, p =>
                {
                    p.Metadata.OwnerReferences = null;
                    return true;
                });
            }
        }
        else
        {
            Track(Task.WhenAll(pods.Select(p => DeletePodAsync(ns, p, null))));
        }
        await Task.CompletedTask;
        return StatusBody.Success(name, "batch", "jobs", uid);
    }

    /// <summary>
    /// Deletes a pod: its containers get SIGTERM and the grace period (the request's, else the pod's
    /// terminationGracePeriodSeconds, else 30 s) before SIGKILL; the pod object goes when they are gone.
    /// Returns the pod's JSON with its deletionTimestamp, or null when there is no such pod.
    /// </summary>
    public async Task<string?> DeletePodAsync(string ns, string name, long? gracePeriodSeconds)
    {
        long grace = 0;
        var wasRunning = false;
        var found = Store.TryUpdate<V1Pod>("pods", ns, name, pod =>
        {
            if (pod.Metadata.DeletionTimestamp is not null) return false;
            wasRunning = pod.Status.Phase is not ("Succeeded" or "Failed");
            // A pod never bound to a node has no kubelet to wait for: the real server deletes it at once.
            grace = wasRunning && pod.Spec.NodeName is not null ? gracePeriodSeconds ?? pod.Spec.TerminationGracePeriodSeconds ?? 30 : 0;
            pod.Metadata.DeletionTimestamp = Time.GetUtcNow().UtcDateTime;
            pod.Metadata.DeletionGracePeriodSeconds = grace;
            return true;
        });
        if (!found) return null;
        var json = Store.GetJson("pods", ns, name);
        var runner = Pod(ns, name);
        if (runner is not null)
        {
            if (runner.Scheduled) RecordEvent(ns, "Pod", name, "Normal", "Killing", "Stopping container");
            var endedHere = await runner.StopAsync(TimeSpan.FromSeconds(grace));
            _pods.TryRemove((ns, name), out _);
            // A pod deleted before it ended counts as failed for its Job.
            if (endedHere) PodEnded(ns, name, runner.JobName, PodEnd.Failed);
        }
        Store.TryRemove("pods", ns, name, out _);
        return json;
    }

    /// <summary>
    /// The kubelet evicts a pod under node pressure (see <see cref="PodRunner.EvictAsync"/>); its Job
    /// counts it failed. Throws when the pod is not running on the node (no such pod, never
    /// scheduled, already ended or being deleted), since a kubelet evicts only its active pods.
    /// </summary>
    public async Task EvictPodAsync(string ns, string name, string message)
    {
        var runner = Pod(ns, name);
        if (runner is null || !await runner.EvictAsync(message))
            throw new InvalidOperationException($"pod {ns}/{name} is not active on the node: there is nothing to evict");
    }

    /// <summary>
    /// The pod's node is lost: the node lifecycle controller marks the pod not Ready, then the taint
    /// manager, once the pod's toleration of the node's NoExecute not-ready taint has run out, adds a
    /// DisruptionTarget condition and deletes the pod. With no kubelet left to confirm, the pod is
    /// removed at once, as the pod garbage collector removes a lost node's pods; its containers are
    /// removed with it (on a real lost node they would run on, unreachable). Its Job counts it failed.
    /// Throws when the pod is not on the node (no such pod, never scheduled, or being deleted).
    /// </summary>
    public async Task LoseNodeAsync(string ns, string name)
    {
        var runner = Pod(ns, name);
        var onNode = Store.Read<V1Pod, bool>("pods", ns, name, p => p.Spec.NodeName is not null && p.Metadata.DeletionTimestamp is null);
        if (runner is null || !runner.Scheduled || !onNode)
            throw new InvalidOperationException($"pod {ns}/{name} is not on the node: there is no node to lose");

        Store.TryUpdate<V1Pod>("pods", ns, name, pod =>
        {
            if (pod.Metadata.DeletionTimestamp is not null || pod.Status.Conditions?.FirstOrDefault(c => c.Type == "Ready") is not { Status: "True" } ready)
                return false;
            // The node lifecycle controller changes the status alone, keeping the reason.
            ready.Status = "False";
            ready.LastTransitionTime = Time.GetUtcNow().UtcDateTime;
            return true;
        });
        RecordEvent(ns, "Pod", name, "Warning", "NodeNotReady", "Node is not ready", "node-controller");

        Store.TryUpdate<V1Pod>("pods", ns, name, pod =>
        {
            if (pod.Metadata.DeletionTimestamp is not null) return false;
            PodRunner.SetCondition(pod, "DisruptionTarget", "True", "DeletionByTaintManager", Time.GetUtcNow().UtcDateTime,
                "Taint manager: deleting due to NoExecute taint");
            return true;
        });
        RecordEvent(ns, "Pod", name, "Normal", "TaintManagerEviction", $"Marking for deletion Pod {ns}/{name}", "taint-eviction-controller");

        var deleting = false;
        Store.TryUpdate<V1Pod>("pods", ns, name, pod =>
        {
            // Deleted meanwhile through the API: that deletion finishes the pod.
            if (pod.Metadata.DeletionTimestamp is not null) return false;
            pod.Metadata.DeletionTimestamp = Time.GetUtcNow().UtcDateTime;
            pod.Metadata.DeletionGracePeriodSeconds = pod.Spec.TerminationGracePeriodSeconds ?? 30;
            deleting = true;
            return true;
        });
        if (!deleting) return;
        var endedHere = await runner.StopAsync(TimeSpan.Zero);
        _pods.TryRemove((ns, name), out _);
        if (endedHere) PodEnded(ns, name, runner.JobName, PodEnd.Failed);
        Store.TryRemove("pods", ns, name, out _);
    }

    /// <summary>Starts deleting a pod; the deletion goes on after the request is answered.</summary>
    public void BeginDeletePod(string ns, string name, long? gracePeriodSeconds) => Track(DeletePodAsync(ns, name, gracePeriodSeconds));

    /// <summary>
    /// Records an event about a Job or a Pod, from <paramref name="component"/>, else from the job
    /// controller for a Job and the kubelet for a Pod.
    /// </summary>
    public void RecordEvent(string ns, string kind, string name, string type, string reason, string message, string? component = null)
    {
        component ??= kind == "Job" ? "job-controller" : "kubelet";
        var uid = kind == "Job"
            ? Store.Read<V1Job, string>("jobs", ns, name, j => j.Metadata.Uid)
            : Store.Read<V1Pod, string>("pods", ns, name, p => p.Metadata.Uid);
        var now = Time.GetUtcNow().UtcDateTime;
        Store.TryAdd("events", new Corev1Event
        {
            ApiVersion = "v1",
            Kind = "Event",
            Metadata = new V1ObjectMeta
            {
                Name = $"{name}.{Guid.NewGuid():N}"[..Math.Min(name.Length + 17, 253)],
                NamespaceProperty = ns,
            },
            InvolvedObject = new V1ObjectReference
            {
                ApiVersion = kind == "Job" ? "batch/v1" : "v1",
                Kind = kind,
                Name = name,
                NamespaceProperty = ns,
                Uid = uid,
            },
            Type = type,
            Reason = reason,
            Message = message,
            Count = 1,
            FirstTimestamp = now,
            LastTimestamp = now,
            // Only a kubelet names the node it runs on.
            Source = new V1EventSource { Component = component, Host = component == "kubelet" ? Scheduler.NodeName : null },
            ReportingComponent = component,
        }, out _);
    }

    /// <summary>Whether the engine reported an OOM kill in the container.</summary>
    public bool OomSeen(string containerId) => _oom.TryGetValue(containerId, out var seen) && seen.Task.IsCompleted;

    /// <summary>
    /// Whether a container that died of SIGKILL by itself was OOM-killed: the engine may record its
    /// exit before it learns of the OOM kill, and then never sets State.OOMKilled, and containerd
    /// may drop the "oom" event altogether. The kernel's log decides first (its engine is the
    /// test's local one, on this kernel); where it cannot, a bounded wait for a late event.
    /// </summary>
    public async Task<bool> DecideOomAsync(string containerId, TimeSpan limit, CancellationToken cancel)
    {
        var seen = _oom.GetOrAdd(containerId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (seen.Task.IsCompleted) return true;
        switch (KernelOomLog.Find(containerId))
        {
            case KernelOomLog.Finding.Killed:
                return true;
            case KernelOomLog.Finding.NotKilled:
                return seen.Task.IsCompleted;
        }
        try
        {
            await seen.Task.WaitAsync(limit, Time, cancel);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task ListenForOomAsync()
    {
        var parameters = new ContainerEventsParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
                ["event"] = new Dictionary<string, bool> { ["oom"] = true },
                ["label"] = new Dictionary<string, bool> { [$"{PodContainers.InstanceLabel}={Instance}"] = true },
            },
        };
        try
        {
            await Docker.System.MonitorEventsAsync(parameters, new OomReporter(_oom), _stop.Token);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stopped on purpose.
        }
    }

    private sealed class OomReporter(ConcurrentDictionary<string, TaskCompletionSource> oom) : IProgress<Message>
    {
        public void Report(Message value)
        {
            if (value.Action != "oom" || value.Actor?.ID is not { } id) return;
            oom.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    private void Track(Task task) => _background.Add(task);

    private static string RandomSuffix() =>
        string.Create(5, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = GeneratedNameChars[Random.Shared.Next(GeneratedNameChars.Length)];
        });

    /// <summary>Stops every pod and removes every container and volume this fake made, whatever its state.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_pods.Values.Select(p => p.StopAsync(TimeSpan.Zero)));
        try
        {
            await Task.WhenAll(_background).WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception)
        {
            // Background deletions racing the stop: what they left is swept below.
        }
        var filter = new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [$"{PodContainers.InstanceLabel}={Instance}"] = true },
        };
        var containers = await Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter });
        foreach (var container in containers)
        {
            try
            {
                await Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
            }
            catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
            {
                // Gone meanwhile.
            }
        }
        var volumes = await Docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter });
        foreach (var volume in volumes.Volumes ?? [])
        {
            try
            {
                await Docker.Volumes.RemoveAsync(volume.Name, force: true);
            }
            catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
            {
                // Gone meanwhile.
            }
        }
        try
        {
            await _oomListening;
        }
        catch (Exception)
        {
            // Ended with the stop.
        }
        _stop.Dispose();
    }
}
