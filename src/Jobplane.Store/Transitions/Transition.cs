namespace Jobplane.Store;

/// <summary>
/// One decision to apply to one execution, with what the writer needs beyond the decision: the
/// execution's current attempt, its worker (for the event), the execution's error (null keeps the
/// one it has, except that success clears it), the error recorded on the ending attempt, and, for a
/// worker's report, its exit code and result; for a retry, the backoff in seconds.
/// </summary>
public sealed record Transition(Guid ExecutionId, TransitionDecision Decision, int Attempt, string? Worker = null)
{
    public string? Error { get; init; }
    public string? AttemptError { get; init; }
    public int? ExitCode { get; init; }
    public string? ResultJson { get; init; }
    public double BackoffSeconds { get; init; }
}
