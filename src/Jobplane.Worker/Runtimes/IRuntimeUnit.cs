namespace Jobplane.Worker.Runtimes;

/// <summary>
/// One running attempt as a runtime sees it. Disposing it ends everything the unit started and
/// removes it (never the attempt folder: the supervisor removes that afterwards).
/// </summary>
public interface IRuntimeUnit : IAsyncDisposable
{
    /// <summary>How the worker's log names it: "process group 4242", "container 3f2a...".</summary>
    string Description { get; }

    /// <summary>Completes when the unit's main process has exited.</summary>
    Task Exited { get; }

    /// <summary>Cancelled when its output cannot be delivered: the attempt must end rather than stall.</summary>
    CancellationToken OutputFaulted { get; }

    /// <summary>Terminate: ask everything in the unit to end. Kill: end it now. A unit already gone is not an error.</summary>
    Task SignalAsync(UnitSignal signal);

    /// <summary>
    /// After the main process exited within the grace period: waits until nothing else of the unit
    /// runs (its other processes get the rest of the grace period too).
    /// </summary>
    Task WaitGoneAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>
    /// The unit has ended: reads its output to the end (bounded, so that nothing can hold the
    /// attempt open) and throws when the log sink failed, a worker-side fault.
    /// </summary>
    Task FinishOutputAsync();

    /// <summary>
    /// Its exit code, and the result file placed in the attempt folder. <paramref name="endedByItself"/>
    /// is false when the supervisor timed it out or stopped it.
    /// </summary>
    Task<UnitExit> CollectAsync(bool endedByItself);
}

public enum UnitSignal
{
    Terminate,
    Kill,
}

/// <summary>
/// How a unit exited, and in what words when it failed (null when its code is 0 and nothing else
/// went wrong). Its exit code is null when the unit vanished without one (a lost Kubernetes node).
/// </summary>
public sealed record UnitExit(int? ExitCode, string? Error)
{
    /// <summary>
    /// The result as the runtime judged it, for a runtime whose result.json is not in the attempt
    /// folder (the kubernetes runtime judges it inside the pod); null: the folder's file is read.
    /// </summary>
    internal ResultFile.Outcome? Result { get; init; }

    /// <summary>
    /// The attempt ended for a reason outside the job (its pod evicted, its node lost): it is handed
    /// back for another attempt and not charged to the job.
    /// </summary>
    public bool HandBack { get; init; }

    /// <summary>Running the same job again cannot help (its program does not exist in its image).</summary>
    public bool Final { get; init; }

    public static UnitExit Of(int exitCode) => new(exitCode, exitCode == 0 ? null : OutcomeText.DescribeExit(exitCode));
}
