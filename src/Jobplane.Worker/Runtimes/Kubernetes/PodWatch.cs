using k8s;
using k8s.Models;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// Keeps the latest state of one Job's pod: a list, then a watch from the list's resourceVersion,
/// and after any break (a dropped connection, an expired resourceVersion, an API server restart) a
/// fresh list and watch. Only the pod's current state matters (a terminated container stays
/// terminated), so whatever a break hid is in the next list. A pod that was seen and is then gone
/// (deleted, or its node lost) is reported as gone.
/// </summary>
internal sealed class PodWatch : IAsyncDisposable
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(5);
    /// <summary>How long one watch request stays open before it is renewed: the API server ends them too.</summary>
    private const int WatchSeconds = 300;

    private readonly PodApi _api;
    private readonly string _jobName;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _gate = new();
    private PodSnapshot _current = PodSnapshot.None;
    private bool _disposed;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PodWatch(PodApi api, string jobName, TimeProvider time)
    {
        _api = api;
        _jobName = jobName;
        _time = time;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The pod as last seen (<see cref="PodSnapshot.Pod"/> null before it exists).</summary>
    public PodSnapshot Current
    {
        get
        {
            lock (_gate) return _current;
        }
    }

    /// <summary>Waits until <paramref name="until"/> holds for the pod's state, and returns that state.</summary>
    public async Task<PodSnapshot> WaitAsync(Func<PodSnapshot, bool> until, CancellationToken ct)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (until(_current)) return _current;
                ObjectDisposedException.ThrowIf(_disposed, this);
                changed = _changed.Task;
            }
            await changed.WaitAsync(ct);
        }
    }

    private void Publish(V1Pod? pod, bool deleted)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            var seen = _current.Seen || pod is not null;
            // A deleted pod keeps its last state: how its containers ended is what the attempt reports.
            _current = new PodSnapshot(pod ?? _current.Pod, seen, Gone: seen && (deleted || pod is null));
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    private async Task LoopAsync()
    {
        var retry = FirstRetry;
        var ct = _stop.Token;
        var selector = $"job-name={_jobName}";
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var list = await _api.Client.CoreV1.ListNamespacedPodAsync(_api.Namespace, labelSelector: selector, cancellationToken: ct);
                // backoffLimit 0: one pod per Job. A second would be the Job controller replacing a
                // pod deleted under it; the newest is the one that runs.
                Publish(list.Items.OrderBy(p => p.Metadata.CreationTimestamp).LastOrDefault(), deleted: false);
                var events = _api.Client.CoreV1.WatchListNamespacedPodAsync(_api.Namespace, labelSelector: selector,
                    resourceVersion: list.Metadata.ResourceVersion, timeoutSeconds: WatchSeconds, cancellationToken: ct);
                await foreach (var (type, pod) in events)
                {
                    retry = FirstRetry;
                    if (type == WatchEventType.Error) break;
                    if (type is WatchEventType.Added or WatchEventType.Modified or WatchEventType.Deleted)
                        Publish(pod, deleted: type == WatchEventType.Deleted);
                }
                continue;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Listed again after a pause: whatever went wrong, the next list tells the truth.
            }
            try
            {
                await Task.Delay(retry, _time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LastRetry.Ticks));
        }
    }

    public async ValueTask DisposeAsync()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _disposed = true;
            changed = _changed;
        }
        // Whoever still waits learns that nothing more will change.
        changed.TrySetResult();
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (Exception)
        {
            // Ended by the cancellation.
        }
        _stop.Dispose();
    }
}

/// <summary>One view of a Job's pod.</summary>
/// <param name="Pod">The pod as last seen; null before it was created. A pod that is gone keeps its last state.</param>
/// <param name="Seen">The pod has existed.</param>
/// <param name="Gone">It existed and does no more (deleted, its node lost).</param>
internal sealed record PodSnapshot(V1Pod? Pod, bool Seen, bool Gone)
{
    public static PodSnapshot None { get; } = new(null, false, false);

    public V1ContainerStatus? Status(string container) =>
        Pod?.Status?.ContainerStatuses?.FirstOrDefault(s => s.Name == container);

    /// <summary>The container has run and ended.</summary>
    public bool Terminated(string container) => Status(container)?.State?.Terminated is not null;

    /// <summary>The container's process has started (it may have ended since).</summary>
    public bool Started(string container) => Status(container)?.State is { } s && (s.Running is not null || s.Terminated is not null);

    /// <summary>The pod has reached a phase it never leaves.</summary>
    public bool Finished => Pod?.Status?.Phase is "Succeeded" or "Failed";
}
