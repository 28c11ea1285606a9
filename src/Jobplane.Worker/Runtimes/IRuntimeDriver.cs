namespace Jobplane.Worker.Runtimes;

/// <summary>
/// What differs between runtimes: how a unit (a process group, a container, a Kubernetes Job) is
/// started and what is left of a previous life of the worker. Everything about an attempt's
/// lifetime (timeout, stop, lost lease, grace then kill, outcome, attempt folder) is the
/// <see cref="AttemptSupervisor"/>'s, the same for every runtime.
/// </summary>
public interface IRuntimeDriver
{
    /// <summary>The RUNTIME name that selects this runtime (exec, docker, kubernetes).</summary>
    string Name { get; }

    /// <summary>What this runtime announces in each dequeue; null: nothing announced.</summary>
    Api.WorkerCapabilities? Capabilities => null;

    /// <summary>{WorkRoot}/{WorkerId}: every attempt folder of this worker lives below it.</summary>
    string WorkerRoot { get; }

    /// <summary>How long a unit asked to terminate has before it is killed.</summary>
    TimeSpan KillGrace { get; }

    /// <summary>
    /// This runtime's own objections to a spec (an image it cannot run, limits it does not grant),
    /// checked before the rules every runtime shares; no retry can fix them. Null: none.
    /// </summary>
    string? Validate(RunSpec spec);

    /// <summary>
    /// Creates the attempt folder (its owner, its bound) and starts the unit, its output flowing to
    /// <paramref name="logs"/>. An attempt that cannot start is an outcome, not an exception.
    /// Cancelling <paramref name="stop"/> may abandon a slow preparation (an image pull) with an
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    Task<UnitStart> StartAsync(RunSpec spec, AttemptFolder folder, ILogSink logs, CancellationToken stop);

    /// <summary>
    /// Called once at worker start: ends whatever units a previous life of this worker left and
    /// removes its folders (through <see cref="AttemptFolder.SweepLeftovers"/>).
    /// </summary>
    Task CleanupOrphansAsync(CancellationToken ct);

    /// <summary>See <see cref="IJobRuntime.FindResumableAsync"/>.</summary>
    Task<IReadOnlyList<ResumableAttempt>> FindResumableAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<ResumableAttempt>>([]);

    /// <summary>See <see cref="IJobRuntime.CleanupOrphansAsync(IReadOnlySet{Guid}, CancellationToken)"/>.</summary>
    Task CleanupOrphansAsync(IReadOnlySet<Guid> keep, CancellationToken ct) => CleanupOrphansAsync(ct);
}

/// <summary>A started unit, or the outcome of an attempt that could not start.</summary>
public sealed class UnitStart
{
    private UnitStart(IRuntimeUnit? unit, RunOutcome? outcome) => (Unit, Outcome) = (unit, outcome);

    public IRuntimeUnit? Unit { get; }
    public RunOutcome? Outcome { get; }

    public static UnitStart Started(IRuntimeUnit unit) => new(unit, null);

    public static UnitStart NotStarted(RunOutcome outcome) => new(null, outcome);

    /// <summary>The job itself cannot start (no such program, a refused container): running it again cannot help.</summary>
    public static UnitStart Refused(string error) => new(null, RunOutcomes.Refused(error));
}
