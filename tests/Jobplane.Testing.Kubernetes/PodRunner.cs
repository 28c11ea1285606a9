using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Jobplane.Worker.Runtimes;
using k8s.Models;

namespace Jobplane.Testing.Kubernetes;

/// <summary>How a pod's run ended, for its Job.</summary>
internal enum PodEnd
{
    Succeeded,
    Failed,
    DeadlineExceeded,
}

/// <summary>
/// The kubelet for one pod: init containers one after another, each to completion, then the main
/// containers together, all as real Docker containers sharing the pod's emptyDir volumes, with
/// restartPolicy Never. It writes the pod's status as a kubelet reports it, enforces the active
/// deadline by killing the containers, evicts the pod when told to (node pressure), and removes the
/// containers when the pod is deleted (until then they are kept, exited, so that their logs can
/// still be read). A pod the scheduler could not place has no kubelet: nothing runs until it is
/// deleted or its Job's deadline passes.
/// </summary>
internal sealed class PodRunner
{
    private static readonly TimeSpan BackOffAfter = TimeSpan.FromSeconds(1);
    // As the docker runtime's: on a loaded machine the engine's "oom" event can come well after the
    // exit, or never; the kernel's log settles it first where it can.
    private static readonly TimeSpan LateOomEventLimit = TimeSpan.FromSeconds(20);
    private const int KilledExitCode = 137;
    /// <summary>What a kubelet reports for a container whose process could not be started.</summary>
    private const int StartErrorExitCode = 128;

    private readonly Cluster _cluster;
    private readonly string _ns;
    private readonly string _name;
    private readonly V1PodSpec _spec;
    private readonly DateTimeOffset? _deadline;
    private readonly bool _scheduled;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, string> _started = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<string> _created = [];
    private int _ended;
    private string? _sandbox;
    private Task _run = Task.CompletedTask;

    public PodRunner(Cluster cluster, V1Pod pod, DateTimeOffset? deadline, bool scheduled)
    {
        _scheduled = scheduled;
        _cluster = cluster;
        _ns = pod.Metadata.NamespaceProperty;
        _name = pod.Metadata.Name;
        _spec = pod.Spec;
        _deadline = deadline;
    }

    /// <summary>Which job the pod belongs to, if any, for reporting its end.</summary>
    public string? JobName
    {
        get => Volatile.Read(ref _jobName);
        init => _jobName = value;
    }

    private string? _jobName;

    /// <summary>The Job was deleted with Orphan propagation: the pod runs on, owned by nothing.</summary>
    public void Orphan() => Volatile.Write(ref _jobName, null);

    /// <summary>Whether the scheduler bound the pod to the node (else nothing of it runs).</summary>
    public bool Scheduled => _scheduled;

    /// <summary>The Docker container of a started container of the pod, for its log.</summary>
    public string? StartedContainer(string name) => _started.TryGetValue(name, out var id) ? id : null;

    public void Start() => _run = Task.Run(RunAsync);

    /// <summary>
    /// Deletes the pod's containers: SIGTERM, then SIGKILL after <paramref name="grace"/> at most,
    /// then removal, with its volumes. True when the pod had not ended before: this deletion ended
    /// it, and the caller reports that to its Job.
    /// </summary>
    public async Task<bool> StopAsync(TimeSpan grace)
    {
        var running = TryEndQuietly();
        await _stop.CancelAsync();
        if (running && grace > TimeSpan.Zero)
        {
            await Task.WhenAll(_created.Select(id => SignalAsync(id, "SIGTERM")));
            using var waitLimit = new CancellationTokenSource(grace);
            await Task.WhenAll(_created.Select(async id =>
            {
                try
                {
                    await _cluster.Docker.Containers.WaitContainerAsync(id, waitLimit.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or DockerApiException or HttpRequestException or IOException)
                {
                    // Still running at the end of the grace period, or already gone.
                }
            }));
        }
        try
        {
            await _run;
        }
        catch (Exception)
        {
            // The run ends by cancellation.
        }
        if (running) await ReportKilledAsync();
        // Only now: a container the run was creating is in the list.
        await RemoveContainersAsync();
        await RemoveVolumesAsync();
        return running;
    }

    private async Task RunAsync()
    {
        var containers = RunContainersAsync(_stop.Token);
        var deadline = _deadline is { } at ? WatchDeadlineAsync(at, containers) : Task.CompletedTask;
        try
        {
            await containers;
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Deleted, or past its deadline: whoever stopped the pod reports its state.
        }
        catch (Exception e)
        {
            // A Docker failure the fake cannot map to a pod state: the pod fails, with the cause in its message.
            if (TryEndQuietly())
            {
                UpdatePod(pod =>
                {
                    pod.Status.Phase = "Failed";
                    pod.Status.Reason = "FakeKubeletError";
                    pod.Status.Message = e.Message;
                });
                _cluster.PodEnded(_ns, _name, JobName, PodEnd.Failed);
            }
        }
        await deadline;
    }

    private async Task RunContainersAsync(CancellationToken stop)
    {
        if (!_scheduled)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, _cluster.Time, stop);
            return;
        }
        var start = _cluster.Time.GetUtcNow().UtcDateTime;
        UpdatePod(pod => pod.Status.StartTime = start);
        foreach (var volume in _spec.Volumes ?? [])
        {
            if (volume.EmptyDir is null) continue;
            var options = new Dictionary<string, string> { ["type"] = "tmpfs", ["device"] = "tmpfs" };
            var size = volume.EmptyDir.SizeLimit is { } limit ? $"size={(long)limit.ToDecimal()}," : "";
            options["o"] = $"{size}mode=1777";
            await _cluster.Docker.Volumes.CreateAsync(new VolumesCreateParameters
            {
                Name = PodContainers.VolumeName(_cluster.Instance, _ns, _name, volume.Name),
                Driver = "local",
                DriverOpts = options,
                Labels = PodContainers.Labels(_cluster.Instance, _ns, _name, null),
            }, stop);
        }

        if (_spec.Volumes?.Any(v => v.EmptyDir is not null) == true || _spec.ShareProcessNamespace == true) await StartSandboxAsync(stop);

        foreach (var init in _spec.InitContainers ?? [])
        {
            var exit = await RunContainerAsync(init, isInit: true, stop);
            if (exit != 0)
            {
                if (!TryEndQuietly()) return;
                UpdatePod(pod => pod.Status.Phase = "Failed");
                _cluster.PodEnded(_ns, _name, JobName, PodEnd.Failed);
                return;
            }
        }
        UpdatePod(pod => SetCondition(pod, "Initialized", "True"));
        // Started one after another, as a kubelet starts them: each has started (or failed to) before
        // the next is created. They then run side by side.
        var running = new List<Task<long>>();
        foreach (var container in _spec.Containers)
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            running.Add(RunContainerAsync(container, isInit: false, stop, started));
            await Task.WhenAny(started.Task, running[^1]);
        }
        var exits = await Task.WhenAll(running);
        var succeeded = exits.All(e => e == 0);
        // The end is claimed before the phase is written: a deletion, deadline or eviction that
        // claimed it first writes the pod's state, and is not overwritten here.
        if (!TryEndQuietly()) return;
        UpdatePod(pod =>
        {
            pod.Status.Phase = succeeded ? "Succeeded" : "Failed";
            SetCondition(pod, "Ready", "False", "PodCompleted");
            SetCondition(pod, "ContainersReady", "False", "PodCompleted");
        });
        _cluster.PodEnded(_ns, _name, JobName, succeeded ? PodEnd.Succeeded : PodEnd.Failed);
    }

    /// <summary>
    /// Node-pressure eviction, as the kubelet's eviction manager does it: every container killed at
    /// once (no grace), then the pod Failed with reason Evicted, a DisruptionTarget condition, and an
    /// Evicted event; the containers are kept, exited, like any failed pod's. False when the pod has
    /// already ended or was never placed on the node.
    /// </summary>
    public async Task<bool> EvictAsync(string message)
    {
        if (!_scheduled || !TryEndQuietly()) return false;
        await _stop.CancelAsync();
        await Task.WhenAll(_created.Select(id => SignalAsync(id, "SIGKILL")));
        try
        {
            await _run;
        }
        catch (Exception)
        {
            // Stopped by the cancellation above.
        }
        // A container the run was starting when it was stopped is known only now.
        await Task.WhenAll(_created.Select(id => SignalAsync(id, "SIGKILL")));
        var ends = await ContainerEndsAsync();
        var now = _cluster.Time.GetUtcNow().UtcDateTime;
        UpdatePod(pod =>
        {
            pod.Status.Phase = "Failed";
            pod.Status.Reason = "Evicted";
            pod.Status.Message = message;
            SetCondition(pod, "DisruptionTarget", "True", "TerminationByKubelet", now, message);
            SetCondition(pod, "Ready", "False", "PodCompleted");
            SetCondition(pod, "ContainersReady", "False", "PodCompleted");
            foreach (var status in (pod.Status.InitContainerStatuses ?? []).Concat(pod.Status.ContainerStatuses ?? []))
            {
                if (status.State?.Running is not { } running || !ends.TryGetValue(status.Name, out var end)) continue;
                status.Ready = false;
                status.Started = false;
                status.State = new V1ContainerState
                {
                    Terminated = new V1ContainerStateTerminated
                    {
                        ExitCode = end.ExitCode,
                        Reason = end.Reason,
                        StartedAt = running.StartedAt,
                        FinishedAt = end.FinishedAt ?? now,
                        ContainerID = status.ContainerID,
                    },
                };
            }
        });
        _cluster.RecordEvent(_ns, "Pod", _name, "Warning", "Evicted", message);
        _cluster.PodEnded(_ns, _name, JobName, PodEnd.Failed);
        return true;
    }

    /// <summary>How each started container ended, as the engine saw it (a killed one: 137, Error).</summary>
    private async Task<Dictionary<string, (int ExitCode, string Reason, DateTime? FinishedAt)>> ContainerEndsAsync()
    {
        var ends = new Dictionary<string, (int, string, DateTime?)>(StringComparer.Ordinal);
        foreach (var (name, id) in _started)
        {
            try
            {
                var state = (await _cluster.Docker.Containers.InspectContainerAsync(id)).State;
                if (state is null || state.Running) continue;
                var oom = state.OOMKilled || _cluster.OomSeen(id) ||
                    (state.ExitCode == KilledExitCode && KernelOomLog.Find(id) == KernelOomLog.Finding.Killed);
                var reason = oom ? "OOMKilled" : state.ExitCode == 0 ? "Completed" : "Error";
                DateTime? finishedAt = DateTime.TryParse(state.FinishedAt, CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at) ? at : null;
                ends[name] = ((int)state.ExitCode, reason, finishedAt);
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                // Gone: nothing to report.
            }
        }
        return ends;
    }

    /// <summary>
    /// The pod's sandbox, as a kubelet's pause container: it holds the pod's emptyDir volumes
    /// mounted for the pod's whole life. A tmpfs volume is mounted while some container uses it and
    /// unmounted (its files lost) when the last one stops, which would empty it between an init
    /// container and the main one.
    /// </summary>
    private async Task StartSandboxAsync(CancellationToken stop)
    {
        var created = await _cluster.Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = $"k8s_POD_{_name}_{_ns}_{_cluster.Instance}",
            Image = _cluster.SandboxImage,
            // One process, as a kubelet's pause container is: in a pod that shares its process
            // namespace, the other containers see it as pid 1 and nothing else of the sandbox.
            Entrypoint = ["sleep", "2147483647"],
            Labels = PodContainers.Labels(_cluster.Instance, _ns, _name, "POD"),
            HostConfig = new HostConfig
            {
                NetworkMode = "none",
                CapDrop = ["ALL"],
                SecurityOpt = ["no-new-privileges"],
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
                Mounts = [.. (_spec.Volumes ?? []).Where(v => v.EmptyDir is not null).Select(v => new Mount
                {
                    Type = "volume",
                    Source = PodContainers.VolumeName(_cluster.Instance, _ns, _name, v.Name),
                    Target = $"/volumes/{v.Name}",
                    VolumeOptions = new VolumeOptions { NoCopy = true },
                })],
            },
        }, CancellationToken.None);
        _sandbox = created.ID;
        stop.ThrowIfCancellationRequested();
        await _cluster.Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), stop);
    }

    /// <summary>Runs one container to its end and returns its exit code.</summary>
    private async Task<long> RunContainerAsync(V1Container container, bool isInit, CancellationToken stop, TaskCompletionSource? started = null)
    {
        var docker = _cluster.Docker;
        ImageInspectResponse image;
        try
        {
            image = await docker.Images.InspectImageAsync(container.Image, stop);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            // Never a pull: there is no registry. The pod waits, as a real one would, until it is
            // deleted or its deadline passes.
            var message = $"Failed to pull image \"{container.Image}\": image not present locally and no registry is reachable";
            SetWaiting(container.Name, isInit, "ErrImagePull", message);
            _cluster.RecordEvent(_ns, "Pod", _name, "Warning", "Failed", message);
            await Task.Delay(BackOffAfter, _cluster.Time, stop);
            SetWaiting(container.Name, isInit, "ImagePullBackOff", $"Back-off pulling image \"{container.Image}\"");
            _cluster.RecordEvent(_ns, "Pod", _name, "Normal", "BackOff", $"Back-off pulling image \"{container.Image}\"");
            started?.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, _cluster.Time, stop);
            throw new OperationCanceledException(stop);
        }
        _cluster.RecordEvent(_ns, "Pod", _name, "Normal", "Pulled", $"Container image \"{container.Image}\" already present on machine");

        var (parameters, configError) = PodContainers.Build(_cluster.Instance, _ns, _name, _spec, container, image.Config?.User,
            _spec.ShareProcessNamespace == true ? _sandbox : null);
        if (parameters is null)
        {
            SetWaiting(container.Name, isInit, "CreateContainerConfigError", configError!);
            _cluster.RecordEvent(_ns, "Pod", _name, "Warning", "Failed", $"Error: {configError}");
            started?.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, _cluster.Time, stop);
            throw new OperationCanceledException(stop);
        }
        // Not cancelled midway: a container the engine made is always known, so always removed.
        var created = await docker.Containers.CreateContainerAsync(parameters, CancellationToken.None);
        _created.Add(created.ID);
        stop.ThrowIfCancellationRequested();
        _cluster.RecordEvent(_ns, "Pod", _name, "Normal", "Created", $"Created container {container.Name}");
        try
        {
            await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), stop);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.BadRequest)
        {
            // The runtime could not start its process (no such program in the image): as a
            // kubelet reports it, the container terminated with 128 and reason StartError.
            var failedAt = _cluster.Time.GetUtcNow().UtcDateTime;
            _cluster.RecordEvent(_ns, "Pod", _name, "Warning", "Failed", $"Error: {e.Message}");
            UpdateContainer(container.Name, isInit, status =>
            {
                status.Started = false;
                status.State = new V1ContainerState
                {
                    Terminated = new V1ContainerStateTerminated
                    {
                        ExitCode = StartErrorExitCode,
                        Reason = "StartError",
                        Message = e.Message,
                        StartedAt = failedAt,
                        FinishedAt = failedAt,
                        ContainerID = $"docker://{created.ID}",
                    },
                };
            }, null);
            started?.TrySetResult();
            return StartErrorExitCode;
        }
        started?.TrySetResult();
        _started[container.Name] = created.ID;
        _cluster.RecordEvent(_ns, "Pod", _name, "Normal", "Started", $"Started container {container.Name}");
        var startedAt = _cluster.Time.GetUtcNow().UtcDateTime;
        UpdateContainer(container.Name, isInit, status =>
        {
            status.ContainerID = $"docker://{created.ID}";
            status.ImageID = $"docker://{image.ID}";
            status.Started = true;
            status.Ready = !isInit;
            status.State = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = startedAt } };
        }, pod =>
        {
            if (!isInit)
            {
                pod.Status.Phase = "Running";
                SetCondition(pod, "Ready", "True");
                SetCondition(pod, "ContainersReady", "True");
            }
        });

        var waited = await docker.Containers.WaitContainerAsync(created.ID, stop);
        var state = (await docker.Containers.InspectContainerAsync(created.ID, stop)).State;
        var exitCode = waited.StatusCode;
        var oom = state?.OOMKilled == true || _cluster.OomSeen(created.ID);
        if (!oom && exitCode == KilledExitCode) oom = await _cluster.DecideOomAsync(created.ID, LateOomEventLimit, stop);
        var reason = oom ? "OOMKilled" : exitCode == 0 ? "Completed" : "Error";
        var finishedAt = _cluster.Time.GetUtcNow().UtcDateTime;
        UpdateContainer(container.Name, isInit, status =>
        {
            status.Ready = isInit && exitCode == 0;
            status.Started = false;
            status.State = new V1ContainerState
            {
                Terminated = new V1ContainerStateTerminated
                {
                    ExitCode = (int)exitCode,
                    Reason = reason,
                    StartedAt = startedAt,
                    FinishedAt = finishedAt,
                    ContainerID = $"docker://{created.ID}",
                },
            };
        }, null);
        return exitCode;
    }

    private async Task WatchDeadlineAsync(DateTimeOffset deadline, Task containers)
    {
        var wait = deadline - _cluster.Time.GetUtcNow();
        try
        {
            if (wait > TimeSpan.Zero) await Task.Delay(wait, _cluster.Time, _stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (!TryEndQuietly()) return;
        await _stop.CancelAsync();
        await Task.WhenAll(_created.Select(id => SignalAsync(id, "SIGKILL")));
        var killedAt = _cluster.Time.GetUtcNow().UtcDateTime;
        UpdatePod(pod =>
        {
            pod.Status.Phase = "Failed";
            pod.Status.Reason = "DeadlineExceeded";
            pod.Status.Message = "Pod was active on the node longer than the specified deadline";
            foreach (var status in (pod.Status.InitContainerStatuses ?? []).Concat(pod.Status.ContainerStatuses ?? []))
            {
                if (status.State?.Running is not { } running) continue;
                status.Ready = false;
                status.Started = false;
                status.State = new V1ContainerState
                {
                    Terminated = new V1ContainerStateTerminated
                    {
                        ExitCode = KilledExitCode,
                        Reason = "Error",
                        StartedAt = running.StartedAt,
                        FinishedAt = killedAt,
                        ContainerID = status.ContainerID,
                    },
                };
            }
        });
        _cluster.RecordEvent(_ns, "Pod", _name, "Normal", "DeadlineExceeded", "Pod was active on the node longer than the specified deadline");
        try
        {
            // A container being created when the deadline passed is known once the run has stopped.
            await containers;
        }
        catch (Exception)
        {
            // Stopped by the cancellation above.
        }
        await RemoveContainersAsync();
        _cluster.PodEnded(_ns, _name, JobName, PodEnd.DeadlineExceeded);
    }

    /// <summary>Claims the pod's end: only the one that claims it writes the pod's final state and tells its Job.</summary>
    private bool TryEndQuietly() => Interlocked.CompareExchange(ref _ended, 1, 0) == 0;

    /// <summary>
    /// As a kubelet does before a deleted pod's object goes: whatever still runs is killed, and the
    /// pod's status records each container's end (SIGTERM's 143, SIGKILL's 137) with phase Failed,
    /// so that a watcher sees how its containers ended before it sees the pod deleted.
    /// </summary>
    private async Task ReportKilledAsync()
    {
        var ends = new List<(string Name, bool IsInit, long ExitCode)>();
        foreach (var (name, id) in _started)
        {
            await SignalAsync(id, "SIGKILL");
            try
            {
                using var waitLimit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var waited = await _cluster.Docker.Containers.WaitContainerAsync(id, waitLimit.Token);
                ends.Add((name, _spec.InitContainers?.Any(c => c.Name == name) == true, waited.StatusCode));
            }
            catch (Exception e) when (e is OperationCanceledException or DockerApiException or HttpRequestException or IOException)
            {
                // Gone already: nothing to report for it.
            }
        }
        var finishedAt = _cluster.Time.GetUtcNow().UtcDateTime;
        _cluster.Store.TryUpdate<V1Pod>("pods", _ns, _name, pod =>
        {
            foreach (var (name, isInit, exitCode) in ends)
            {
                var status = (isInit ? pod.Status.InitContainerStatuses : pod.Status.ContainerStatuses)?.FirstOrDefault(c => c.Name == name);
                if (status?.State?.Terminated is not null || status is null) continue;
                status.Ready = false;
                status.Started = false;
                status.State = new V1ContainerState
                {
                    Terminated = new V1ContainerStateTerminated
                    {
                        ExitCode = (int)exitCode,
                        Reason = exitCode == 0 ? "Completed" : "Error",
                        StartedAt = status.State?.Running?.StartedAt,
                        FinishedAt = finishedAt,
                        ContainerID = status.ContainerID,
                    },
                };
            }
            if (pod.Status.Phase is not ("Succeeded" or "Failed")) pod.Status.Phase = "Failed";
            return true;
        });
    }

    private async Task RemoveContainersAsync()
    {
        foreach (var id in _created.Append(_sandbox).OfType<string>())
        {
            try
            {
                await _cluster.Docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
            }
            catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
            {
                // Already gone, or already being removed.
            }
        }
        _started.Clear();
    }

    private async Task RemoveVolumesAsync()
    {
        foreach (var volume in _spec.Volumes ?? [])
        {
            if (volume.EmptyDir is null) continue;
            try
            {
                await _cluster.Docker.Volumes.RemoveAsync(PodContainers.VolumeName(_cluster.Instance, _ns, _name, volume.Name), force: true);
            }
            catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
            {
                // Never made, or still in use by a container the engine is removing: the fake's disposal sweeps it.
            }
        }
    }

    private async Task SignalAsync(string id, string signal)
    {
        try
        {
            await _cluster.Docker.Containers.KillContainerAsync(id, new ContainerKillParameters { Signal = signal });
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // Not running (any more).
        }
    }

    private void SetWaiting(string container, bool isInit, string reason, string message) =>
        UpdateContainer(container, isInit, status => status.State = new V1ContainerState
        {
            Waiting = new V1ContainerStateWaiting { Reason = reason, Message = message },
        }, null);

    private void UpdateContainer(string container, bool isInit, Action<V1ContainerStatus> change, Action<V1Pod>? alsoPod) =>
        UpdatePod(pod =>
        {
            var statuses = isInit ? pod.Status.InitContainerStatuses : pod.Status.ContainerStatuses;
            var status = statuses?.FirstOrDefault(s => s.Name == container);
            if (status is not null) change(status);
            alsoPod?.Invoke(pod);
        });

    /// <summary>Changes the stored pod unless the pod has already ended for another reason (deleted, deadline).</summary>
    private void UpdatePod(Action<V1Pod> change) =>
        _cluster.Store.TryUpdate<V1Pod>("pods", _ns, _name, pod =>
        {
            if (pod.Status.Phase is "Succeeded" or "Failed") return false;
            change(pod);
            return true;
        });

    private void SetCondition(V1Pod pod, string type, string status, string? reason = null) =>
        SetCondition(pod, type, status, reason, _cluster.Time.GetUtcNow().UtcDateTime);

    public static void SetCondition(V1Pod pod, string type, string status, string? reason, DateTime now, string? message = null)
    {
        pod.Status.Conditions ??= [];
        var condition = pod.Status.Conditions.FirstOrDefault(c => c.Type == type);
        if (condition is null)
        {
            condition = new V1PodCondition { Type = type };
            pod.Status.Conditions.Add(condition);
        }
        if (condition.Status == status) return;
        condition.Status = status;
        condition.Reason = reason;
        condition.Message = message;
        condition.LastTransitionTime = now;
    }
}
