using System.Text.Json;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// A way to run one attempt of a job: a local process, a container, a Kubernetes Job.
/// A runtime starts the job, streams its output to the log sink as it is produced, enforces the
/// timeout, stops it when asked, collects result.json, and removes everything it created.
/// Adding a runtime touches nothing outside its own folder and the registration in Program.
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
}

/// <summary>Everything a runtime needs to run one attempt.</summary>
public sealed record RunSpec(
    Guid ExecutionId,
    Guid JobId,
    int Attempt,
    string Image,
    IReadOnlyList<string> Command,
    TimeSpan Timeout,
    IReadOnlyDictionary<string, string> ExtraEnvironment);

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
