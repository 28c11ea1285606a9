using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Jobplane.Worker.Runtimes.Kubernetes;

/// <summary>
/// Runs each attempt as one batch/v1 Job (see <see cref="JobManifest"/>) through the official
/// client: created under a name derived from the execution and attempt, so that creating it twice
/// finds the first; its pod watched until the job's container starts (or cannot); its log
/// followed; its result read from the result container; and the Job deleted with its pod whatever
/// happened. Kubernetes retries nothing (backoffLimit 0): the controller owns retries.
/// </summary>
public sealed class KubernetesRuntime : IRuntimeDriver, IDisposable
{
    private readonly KubernetesRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly k8s.Kubernetes _client;
    private readonly PodApi _api;
    private readonly string _workerRoot;

    public KubernetesRuntime(KubernetesRuntimeOptions options, ILogger logger, TimeProvider time)
        : this(options, logger, time, options?.ClientConfiguration() ?? throw new ArgumentNullException(nameof(options)))
    {
    }

    /// <summary>With a client configuration of the caller's (tests point it at their API server).</summary>
    public KubernetesRuntime(KubernetesRuntimeOptions options, ILogger logger, TimeProvider time, KubernetesClientConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(configuration);
        RuntimeGuards.CheckShared(options.WorkRoot, options.WorkerId, options.KillGrace, options.MaxLineChars, nameof(options));
        if (options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));
        _options = options;
        _logger = logger;
        _time = time;
        _client = new k8s.Kubernetes(configuration);
        _api = new PodApi(_client, _client, options.Namespace);
        _workerRoot = Path.Combine(Path.GetFullPath(options.WorkRoot), options.WorkerId);
    }

    public string Name => KubernetesRuntimeOptions.RuntimeName;

    public string WorkerRoot => _workerRoot;

    public TimeSpan KillGrace => _options.KillGrace;

    /// <inheritdoc/>
    public Api.WorkerCapabilities Capabilities => _options.Capabilities;

    public void Dispose() => _client.Dispose();

    public string? Validate(RunSpec spec)
    {
        if (RuntimeGuards.ImageProblem(spec.Image, Name) is { } imageProblem) return imageProblem;
        // Limits above this worker's maximums, root or network it does not allow: every attempt would be refused alike.
        return JobManifest.TryBuild(spec, _options, out _);
    }

    public async Task<UnitStart> StartAsync(RunSpec spec, AttemptFolder folder, ILogSink logs, CancellationToken stop)
    {
        JobManifest.TryBuild(spec, _options, out var manifest);
        _options.ResolveLimits(spec.Resources, out var limits);
        var name = manifest!.Metadata.Name;
        try
        {
            await _client.BatchV1.CreateNamespacedJobAsync(manifest, _options.Namespace, cancellationToken: CancellationToken.None);
            KubernetesRuntimeLog.Created(_logger, spec.ExecutionId, spec.Attempt, _options.Namespace, name, spec.Image);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Created before (a create whose answer was lost, then sent again): the same attempt, so
            // the Job is taken over rather than a second one started. One that is not this
            // attempt's is left alone.
            var existing = await _client.BatchV1.ReadNamespacedJobAsync(name, _options.Namespace, cancellationToken: CancellationToken.None);
            if (!IsSameAttempt(existing, manifest))
                return UnitStart.NotStarted(new RunOutcome { Error = $"a Kubernetes Job named {name} exists and is not this worker's attempt", Retryable = true });
            KubernetesRuntimeLog.Adopted(_logger, spec.ExecutionId, spec.Attempt, name);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest or HttpStatusCode.Forbidden)
        {
            // Invalid for this cluster, or refused by its admission (a quota, a pod security level).
            // The API server's words can name the cluster's policies: the operator reads them, the
            // tenant gets the gist.
            KubernetesRuntimeLog.JobRefused(_logger, spec.ExecutionId, spec.Attempt, name, e.Response.Content ?? e.Message);
            return UnitStart.NotStarted(new RunOutcome
            {
                Error = $"Kubernetes refused the attempt's Job ({(int)e.Response.StatusCode} {e.Response.StatusCode}; the worker's log has the API server's reason)",
                // A forbidden create is the operator's to fix (RBAC, quota); an invalid one is the job's.
                Retryable = e.Response.StatusCode == HttpStatusCode.Forbidden,
            });
        }

        var unit = new KubernetesUnit(_api, name, spec, limits, _options, _logger, _time);
        try
        {
            if (await unit.WaitStartedAsync(stop) is { } notStarted)
            {
                await unit.DisposeAsync();
                return UnitStart.NotStarted(notStarted);
            }
            unit.StartOutput(logs);
            return UnitStart.Started(unit);
        }
        catch
        {
            // Stopped while pending, or a worker-side fault: the Job goes with the attempt.
            await unit.DisposeAsync();
            throw;
        }
    }

    private bool IsSameAttempt(V1Job existing, V1Job wanted)
    {
        var have = existing.Metadata.Labels ?? new Dictionary<string, string>();
        var want = wanted.Metadata.Labels;
        return new[] { JobManifest.ExecutionLabel, JobManifest.AttemptLabel, JobManifest.WorkerLabel, JobManifest.ManagedByLabel }
            .All(label => have.TryGetValue(label, out var value) && want.TryGetValue(label, out var expected) && value == expected)
            && existing.Metadata.DeletionTimestamp is null;
    }

    public Task CleanupOrphansAsync(CancellationToken ct) => CleanupOrphansAsync(new HashSet<Guid>(), ct);

    private string WorkerSelector => $"{JobManifest.ManagedByLabel}={JobManifest.ManagedByValue},{JobManifest.WorkerLabel}={_options.WorkerId}";

    /// <summary>
    /// This worker's Jobs that its previous life left (the worker holds the lock on its id: none is
    /// this life's yet) and that carry their lease token: the worker asks the controller whether each
    /// lease is still its own, and takes those attempts over. Jobs being deleted are not offered.
    /// </summary>
    public async Task<IReadOnlyList<ResumableAttempt>> FindResumableAsync(CancellationToken ct)
    {
        var jobs = await _client.BatchV1.ListNamespacedJobAsync(_options.Namespace, labelSelector: WorkerSelector, cancellationToken: ct);
        var found = new List<ResumableAttempt>();
        foreach (var job in jobs.Items)
        {
            if (job.Metadata.DeletionTimestamp is not null) continue;
            if (!Guid.TryParse(LabelOf(job, JobManifest.ExecutionLabel), out var execution)) continue;
            if (job.Metadata.Annotations?.TryGetValue(JobManifest.LeaseAnnotation, out var lease) != true || !Guid.TryParse(lease, out var token)) continue;
            found.Add(new ResumableAttempt(execution, token));
        }
        return found;
    }

    public async Task CleanupOrphansAsync(IReadOnlySet<Guid> keep, CancellationToken ct)
    {
        // Every Job carrying this worker's id was left by an earlier life, except the ones taken over
        // (keep). Their executions are rescued by lease expiry; the Jobs only hold the cluster's resources.
        var orphans = await _client.BatchV1.ListNamespacedJobAsync(_options.Namespace, labelSelector: WorkerSelector, cancellationToken: ct);
        var removed = 0;
        foreach (var orphan in orphans.Items)
        {
            ct.ThrowIfCancellationRequested();
            if (Guid.TryParse(LabelOf(orphan, JobManifest.ExecutionLabel), out var execution) && keep.Contains(execution)) continue;
            if (!await KubernetesUnit.RemoveAsync(_api, orphan.Metadata.Name, _logger, _time)) continue;
            removed++;
            KubernetesRuntimeLog.OrphanJobRemoved(_logger, orphan.Metadata.Name, LabelOf(orphan, JobManifest.ExecutionLabel),
                LabelOf(orphan, JobManifest.AttemptLabel), _options.WorkerId);
        }
        var folders = AttemptFolder.SweepLeftovers(_workerRoot, _options.WorkerId, owner => owner == LibC.EffectiveUserId, _logger, ct);
        KubernetesRuntimeLog.OrphanCleanupDone(_logger, _options.WorkerId, removed, folders);
    }

    private static string LabelOf(V1Job job, string label) =>
        job.Metadata.Labels is not null && job.Metadata.Labels.TryGetValue(label, out var value) ? value : "?";
}
