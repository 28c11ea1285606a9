using System.Globalization;
using System.Text;
using Jobplane.Api;
using Jobplane.Worker.Runtimes.Docker;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// One kubernetes attempt: its Job, the watch on its pod and, once the job's container has
/// started, the reader of its log. Terminating deletes the Job with its pod (the kubelet sends
/// SIGTERM, then SIGKILL after the pod's grace period); killing deletes the pod at once. Disposing
/// it deletes the Job and waits until neither it nor its pod exists.
/// </summary>
internal sealed class KubernetesUnit : IRuntimeUnit
{
    /// <summary>How long the output may go on arriving once the job's container has ended (a stuck API server connection).</summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(10);
    /// <summary>
    /// How long in all the output may go on arriving after the container ended, while it does: its
    /// log is finite, and a busy machine can take longer than <see cref="DrainLimit"/> to read a large one.
    /// </summary>
    private static readonly TimeSpan DrainWhileArriving = TimeSpan.FromMinutes(5);
    /// <summary>How long the result container has, after the job ended, to judge result.json (it starts in well under a second).</summary>
    private static readonly TimeSpan ResultLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ResultReadRetry = TimeSpan.FromMilliseconds(200);
    /// <summary>How long removal is waited for: the Job and its pod gone.</summary>
    private static readonly TimeSpan RemovalLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RemovalPoll = TimeSpan.FromMilliseconds(250);
    /// <summary>The result frame's longest log: the frame of a 1 MiB result and slack.</summary>
    private const long ResultLogBytes = (Wire.MaxResultBytes / 3 + 1) * 4 + 1024;

    private readonly PodApi _api;
    private readonly string _name;
    private readonly RunSpec _spec;
    private readonly PodLimits _limits;
    private readonly KubernetesRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly PodWatch _watch;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PodOutput? _output;

    public KubernetesUnit(PodApi api, string name, RunSpec spec, PodLimits limits, KubernetesRuntimeOptions options, ILogger logger, TimeProvider time)
    {
        _api = api;
        _name = name;
        _spec = spec;
        _limits = limits;
        _options = options;
        _logger = logger;
        _time = time;
        _watch = new PodWatch(api, name, time);
        // The job has ended when its container has, or when its pod ended or vanished without it
        // (evicted, past its deadline, its node lost, deleted by someone else).
        _ = _watch.WaitAsync(s => s.Terminated(JobManifest.JobContainer) || s.Finished || s.Gone, CancellationToken.None)
            .ContinueWith(_ => _exited.TrySetResult(), TaskScheduler.Default);
    }

    public string Description => $"Kubernetes Job {_api.Namespace}/{_name}";

    public Task Exited => _exited.Task;

    public CancellationToken OutputFaulted => _output?.Faulted ?? CancellationToken.None;

    /// <summary>
    /// Waits until the job's container has started. Returns null then, or the outcome of an attempt
    /// that cannot start: an image that cannot be pulled or a container Kubernetes cannot create
    /// (no retry helps), a pod pending past the allowed time (with the scheduler's reason), a pod
    /// ended by its node before it ran (handed back).
    /// </summary>
    public async Task<RunOutcome?> WaitStartedAsync(CancellationToken stop)
    {
        using var pending = new CancellationTokenSource(_options.PendingTimeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, pending.Token);
        PodSnapshot state;
        try
        {
            state = await _watch.WaitAsync(s => s.Started(JobManifest.JobContainer) || s.Finished || s.Gone || CannotStart(s) is not null, either.Token);
        }
        catch (OperationCanceledException) when (pending.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            var reason = PendingReason();
            KubernetesRuntimeLog.PendingTooLong(_logger, _spec.ExecutionId, _spec.Attempt, _name, reason);
            return new RunOutcome
            {
                Error = $"the pod did not start within {OutcomeText.FormatDuration(_options.PendingTimeout)} (KUBERNETES_PENDING_TIMEOUT): {reason}",
                Retryable = true,
            };
        }
        if (CannotStart(state) is { } refusal) return RunOutcomes.Refused(refusal);
        if (state.Started(JobManifest.JobContainer)) return null;
        return Disruption(state) is { } disrupted
            ? RunOutcomes.HandedBack(disrupted)
            : new RunOutcome { Error = $"the pod ended before the job's container started: {PodEndText(state)}", Retryable = true };
    }

    /// <summary>Follows the job container's log from now on.</summary>
    public void StartOutput(ILogSink logs) =>
        _output = new PodOutput(_api, PodName() ?? throw new InvalidOperationException("no pod"), _options.SplitLogStreams,
            () => _watch.Current is var s && (s.Terminated(JobManifest.JobContainer) || s.Finished || s.Gone),
            logs, _options.MaxLineChars, _time);

    private string? PodName() => _watch.Current.Pod?.Metadata?.Name;

    /// <summary>A container's waiting reasons that waiting longer does not mend: its image cannot be had, or it cannot be made.</summary>
    private static bool IsPullFailure(string? reason) => reason is "ErrImagePull" or "ImagePullBackOff" or "InvalidImageName" or "ErrImageNeverPull";

    private static bool IsCreateFailure(string? reason) => reason is "CreateContainerConfigError" or "CreateContainerError";

    /// <summary>Why the job's container can never start, as the kubelet reports it; null while it still may.</summary>
    private string? CannotStart(PodSnapshot state)
    {
        var waiting = state.Status(JobManifest.JobContainer)?.State?.Waiting;
        if (IsPullFailure(waiting?.Reason)) return $"image '{_spec.Image}' cannot be pulled ({waiting!.Reason}): {waiting.Message}";
        if (IsCreateFailure(waiting?.Reason)) return $"Kubernetes cannot create the job's container ({waiting!.Reason}): {waiting.Message}";
        return null;
    }

    /// <summary>
    /// The scheduler's or the kubelet's words for a pod that is not running, from the pod itself (its
    /// PodScheduled condition, its container's waiting reason): no access to events is needed.
    /// </summary>
    private string PendingReason()
    {
        var state = _watch.Current;
        var scheduled = state.Pod?.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled" && c.Status == "False");
        if (scheduled is not null) return $"{scheduled.Reason}: {scheduled.Message}";
        if (state.Status(JobManifest.JobContainer)?.State?.Waiting is { } waiting) return $"{waiting.Reason}: {waiting.Message}";
        return state.Pod is null ? "no pod was created for the Job (a quota or an admission policy may refuse it)" : $"the pod is {state.Pod.Status?.Phase ?? "Pending"}";
    }

    public async Task SignalAsync(UnitSignal signal)
    {
        try
        {
            if (signal == UnitSignal.Terminate)
            {
                // The kubelet sends SIGTERM to every container, then SIGKILL after the pod's grace period.
                await _api.Client.BatchV1.DeleteNamespacedJobAsync(_name, _api.Namespace,
                    new V1DeleteOptions { PropagationPolicy = "Foreground" }, cancellationToken: CancellationToken.None);
            }
            else if (PodName() is { } pod)
            {
                // Now, without the grace period: the lease is lost, or the grace period is over.
                await _api.Client.CoreV1.DeleteNamespacedPodAsync(pod, _api.Namespace,
                    new V1DeleteOptions { GracePeriodSeconds = 0 }, cancellationToken: CancellationToken.None);
            }
        }
        catch (Exception e) when (PodApi.IsNotFound(e))
        {
            // Gone already: nothing left to signal.
        }
    }

    public Task WaitGoneAsync(CancellationToken ct) =>
        // The result container ends with the job's; both must be gone before the grace period is over.
        _watch.WaitAsync(s => s.Gone || s.Finished || s.Pod?.Status?.ContainerStatuses?.All(c => c.State?.Terminated is not null) == true, ct);

    public async Task FinishOutputAsync()
    {
        if (_output is null) return;
        if (!await _output.DrainAsync(DrainLimit, _time, DrainWhileArriving))
            RuntimeLog.OutputNotEnded(_logger, _spec.ExecutionId, _spec.Attempt, OutcomeText.FormatDuration(DrainLimit));
        _output.ThrowIfFaulted();
    }

    public async Task<UnitExit> CollectAsync(bool endedByItself)
    {
        var state = _watch.Current;
        var job = state.Status(JobManifest.JobContainer)?.State?.Terminated;
        if (job is null)
        {
            // The pod ended, or vanished, without the job's container having ended on its own terms.
            if (Disruption(state) is { } disrupted) return new UnitExit(null, disrupted) { HandBack = endedByItself };
            return new UnitExit(null, $"the pod ended without the job's container: {PodEndText(state)}");
        }
        var exit = UnitExit.Of(job.ExitCode);
        if (!endedByItself) return exit;

        if (job.Reason == "StartError" || job.Reason == "ContainerCannotRun")
            return exit with { Error = $"the job's container could not start: {job.Message}", Final = true };
        if (Disruption(state) is { } evicted) return exit with { Error = evicted, HandBack = true };
        if (state.Pod?.Status?.Reason == "DeadlineExceeded")
            return exit with { Error = $"{exit.Error ?? "ended"}: Kubernetes ended the Job at its activeDeadlineSeconds" };
        if (job.Reason == "OOMKilled" && OutcomeText.OutOfMemory(job.ExitCode, _limits.MemoryBytes) is { } outOfMemory)
            return exit with { Error = outOfMemory };
        return exit with { Result = await ReadResultAsync() };
    }

    /// <summary>An eviction or a lost node, in words; null when the pod was not disrupted.</summary>
    private static string? Disruption(PodSnapshot state)
    {
        var status = state.Pod?.Status;
        if (status?.Reason == "Evicted") return $"the pod was evicted by its node: {status.Message}";
        var disruption = status?.Conditions?.FirstOrDefault(c => c.Type == "DisruptionTarget" && c.Status == "True");
        if (disruption is not null) return $"the pod was disrupted ({disruption.Reason}): {disruption.Message}";
        if (state.Gone) return "the pod vanished before the job's container ended (its node lost, or deleted outside jobplane)";
        return null;
    }

    private static string PodEndText(PodSnapshot state) =>
        state.Pod?.Status is { } status ? $"{status.Phase} {status.Reason} {status.Message}".Trim() : "the pod is gone";

    /// <summary>
    /// The result container's verdict on result.json: it runs until the job's processes are gone,
    /// then prints one frame. Whatever goes wrong here is the platform's, not the job's: a retryable failure.
    /// </summary>
    private async Task<ResultFile.Outcome> ReadResultAsync()
    {
        using var limit = new CancellationTokenSource(ResultLimit, _time);
        PodSnapshot state;
        try
        {
            state = await _watch.WaitAsync(s => s.Terminated(JobManifest.ResultContainer) || s.Gone || ResultCannotStart(s) is not null, limit.Token);
        }
        catch (OperationCanceledException)
        {
            return new(null, $"the result container did not report within {OutcomeText.FormatDuration(ResultLimit)}");
        }
        if (ResultCannotStart(state) is { } problem) return new(null, problem);
        var result = state.Status(JobManifest.ResultContainer)?.State?.Terminated;
        if (result is null) return new(null, "the pod vanished before its result was read");
        if (result.ExitCode != 0)
            return new(null, $"the result container failed ({result.Reason}, exit code {result.ExitCode}) while reading {ResultFile.FileName}");

        string log;
        while (true)
        {
            try
            {
                await using var body = await _api.OpenLogAsync(state.Pod!.Metadata.Name, JobManifest.ResultContainer, follow: false, stream: null,
                    sinceTime: null, limit.Token, ResultLogBytes, timestamps: false);
                log = await ReadBoundedAsync(body, ResultLogBytes, limit.Token);
                break;
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !limit.IsCancellationRequested)
            {
                // A broken connection (a network fault, an API server restart): the terminated
                // container's log is still there, so read it again rather than retry a job that
                // succeeded. An answer from the server (the pod is gone, forbidden) is final.
                try
                {
                    await Task.Delay(ResultReadRetry, _time, limit.Token);
                }
                catch (OperationCanceledException)
                {
                    return new(null, $"the result container's log could not be read within {OutcomeText.FormatDuration(ResultLimit)}: {e.Message}");
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || limit.IsCancellationRequested)
            {
                return new(null, $"the result container's log could not be read: {e.Message}");
            }
        }
        // Without timestamps: a kubelet stores a long line in 16 KiB pieces and, asked for timestamps,
        // would stamp each piece; without them the pieces come back as the one line they were.
        if (ResultFrame.TryParse(log, out var outcome, out _) is { } invalid) return new(null, invalid);
        return outcome;
    }

    private string? ResultCannotStart(PodSnapshot state)
    {
        var waiting = state.Status(JobManifest.ResultContainer)?.State?.Waiting;
        return IsPullFailure(waiting?.Reason) || IsCreateFailure(waiting?.Reason)
            ? $"the result container cannot start ({waiting!.Reason}: {waiting.Message}); is KUBERNETES_RESULT_IMAGE ({_options.ResultImage}) right?"
            : null;
    }

    private static async Task<string> ReadBoundedAsync(Stream body, long maxBytes, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > maxBytes) throw new InvalidDataException($"the result container's log is longer than {maxBytes} bytes");
            buffer.Write(chunk, 0, read);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    public async ValueTask DisposeAsync()
    {
        _output?.Abandon();
        // Also on a worker-side fault: no Job or pod outlives its attempt.
        await RemoveAsync(_api, _name, _logger, _time);
        await _watch.DisposeAsync();
    }

    /// <summary>
    /// Deletes the Job with its pods and waits, bounded, until the Job is gone. Foreground deletion
    /// keeps the Job until its pods are gone, so the Job alone is polled: one request per poll.
    /// False (and logged) when it could not be removed.
    /// </summary>
    public static async Task<bool> RemoveAsync(PodApi api, string name, ILogger logger, TimeProvider time)
    {
        using var limit = new CancellationTokenSource(RemovalLimit, time);
        try
        {
            try
            {
                await api.Client.BatchV1.DeleteNamespacedJobAsync(name, api.Namespace,
                    new V1DeleteOptions { PropagationPolicy = "Foreground" }, cancellationToken: limit.Token);
            }
            catch (Exception e) when (PodApi.IsNotFound(e))
            {
                // Removed already (by a TTL, or an earlier delete); its pods may still be going.
            }
            while (true)
            {
                var left = await api.Client.BatchV1.ListNamespacedJobAsync(api.Namespace, fieldSelector: $"metadata.name={name}", cancellationToken: limit.Token);
                if (left.Items.Count == 0) return true;
                await Task.Delay(RemovalPoll, time, limit.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or k8s.Autorest.HttpOperationException || PodApi.IsTransient(e))
        {
            KubernetesRuntimeLog.JobNotRemoved(logger, name, e);
            return false;
        }
    }
}
