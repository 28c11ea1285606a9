using System.Text.Json;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// A way to run one attempt of a job: a local process, a container, a Kubernetes Job.
/// What the worker agent runs attempts through. Real runtimes are an <see cref="AttemptSupervisor"/>
/// over a runtime's <see cref="IRuntimeDriver"/>: the supervisor enforces the timeout, stops the job
/// when asked, judges result.json and removes everything; the driver only starts and signals units.
/// Adding a runtime touches nothing outside its own folder and one line in <see cref="RuntimeRegistry"/>.
/// </summary>
public interface IJobRuntime
{
    /// <summary>The RUNTIME name that selects this runtime (exec, docker, kubernetes).</summary>
    string Name { get; }

    /// <summary>
    /// Runs one attempt to completion. Cancelling <paramref name="stop"/> stops the job (graceful
    /// signal, then a kill after the grace period) and returns an outcome with <see cref="RunOutcome.Stopped"/>;
    /// cancelling <paramref name="kill"/> as well skips the grace period (the lease is lost: another
    /// attempt may already be running). Never throws for job failures: those are outcomes. Throws
    /// only for worker-side faults.
    /// </summary>
    Task<RunOutcome> RunAsync(RunSpec spec, ILogSink logs, CancellationToken stop, CancellationToken kill = default);

    /// <summary>
    /// Called once at worker start: remove whatever a previous life of this worker left behind
    /// (processes, containers, working directories). Their executions are rescued by lease expiry.
    /// </summary>
    Task CleanupOrphansAsync(CancellationToken ct);

    /// <summary>
    /// Attempts a previous life of this worker left running that the worker may take over (their
    /// units outlive the worker's process: kubernetes). Empty for runtimes whose units die with it.
    /// </summary>
    Task<IReadOnlyList<ResumableAttempt>> FindResumableAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<ResumableAttempt>>([]);

    /// <summary>Orphan cleanup that spares the units of the executions in <paramref name="keep"/> (taken over).</summary>
    Task CleanupOrphansAsync(IReadOnlySet<Guid> keep, CancellationToken ct) => CleanupOrphansAsync(ct);

    /// <summary>
    /// What this runtime announces in each dequeue, so the controller hands it only executions it
    /// can run (its class, and the network, root and resources it grants). Null: nothing announced.
    /// </summary>
    Api.WorkerCapabilities? Capabilities => null;
}

/// <summary>Everything a runtime needs to run one attempt.</summary>
public sealed record RunSpec(
    Guid ExecutionId,
    Guid JobId,
    int Attempt,
    string Image,
    IReadOnlyList<string> Command,
    TimeSpan Timeout,
    IReadOnlyDictionary<string, string> ExtraEnvironment)
{
    /// <summary>What the job asks for; null: the runtime's defaults. Runtimes that cannot enforce limits (exec) ignore it.</summary>
    public ResourceRequest? Resources { get; init; }
    /// <summary>The job may have network access (it asks, and its tenant allows it). Runtimes that cannot isolate (exec) ignore it.</summary>
    public bool Network { get; init; }
    /// <summary>
    /// The job asks to run as root; the docker runtime grants it only where the operator allows root.
    /// Runtimes that run jobs as the worker's own user (exec) ignore it: they cannot change users.
    /// </summary>
    public bool RunAsRoot { get; init; }
    /// <summary>The job's tenant, where known; the kubernetes runtime labels the attempt's Job with it.</summary>
    public Guid? TenantId { get; init; }
    /// <summary>
    /// The lease the attempt runs under. A runtime whose units outlive the worker's process
    /// (kubernetes) records it with the unit, so that the worker's next life can take the attempt over.
    /// </summary>
    public Guid? LeaseToken { get; init; }
}

/// <summary>An attempt a previous life of this worker left running, found by the runtime.</summary>
public sealed record ResumableAttempt(Guid ExecutionId, Guid LeaseToken);

/// <summary>
/// What one job asks for; a null field takes the runtime's default. The docker runtime bounds it by
/// the operator's maximums through <see cref="Docker.DockerRuntimeOptions.ResolveLimits"/>.
/// </summary>
public sealed record ResourceRequest(long? MemoryBytes = null, double? Cpus = null, long? Pids = null);

/// <summary>How an attempt ended.</summary>
public sealed record RunOutcome
{
    public int? ExitCode { get; init; }
    /// <summary>Why the attempt failed, in words a user understands ("timed out after 2s"); null on success.</summary>
    public string? Error { get; init; }
    /// <summary>The parsed result.json, when the job wrote a valid one.</summary>
    public JsonElement? Result { get; init; }
    /// <summary>False when running again cannot help (e.g. result.json too large or a symlink).</summary>
    public bool Retryable { get; init; } = true;
    public bool TimedOut { get; init; }
    /// <summary>The attempt was stopped through the stop token (shutdown, lease lost, cancel).</summary>
    public bool Stopped { get; init; }
    /// <summary>
    /// Something outside the job ended the attempt (its Kubernetes pod evicted, its node lost): the
    /// worker hands the execution back for another attempt, not charged to the job; <see cref="Error"/> says why.
    /// </summary>
    public bool HandBack { get; init; }

    public bool Succeeded => Error is null && ExitCode == 0;
}

public enum LogStream
{
    Stdout,
    Stderr,
}

/// <summary>Receives a job's output as it is produced. Implementations must be thread-safe and must not block.</summary>
public interface ILogSink
{
    /// <summary>One line of output without its trailing newline (long lines arrive in pieces).</summary>
    void Write(LogStream stream, string line);
}
