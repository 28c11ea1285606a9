namespace Jobplane.Worker.Runtimes;

/// <summary>The outcomes every runtime reports the same way.</summary>
public static class RunOutcomes
{
    /// <summary>The spec or the job itself is at fault: the same attempt would fail again.</summary>
    public static RunOutcome Refused(string error) => new() { Error = error, Retryable = false };

    public static RunOutcome Stopped(int? exitCode) =>
        new() { ExitCode = exitCode, Stopped = true, Error = OutcomeText.StoppedError, Retryable = true };

    public static RunOutcome TimedOut(int? exitCode, TimeSpan timeout) =>
        new() { ExitCode = exitCode, TimedOut = true, Error = OutcomeText.TimedOut(timeout), Retryable = true };

    /// <summary>Ended by something outside the job (an evicted pod, a lost node): handed back for another attempt, not charged.</summary>
    public static RunOutcome HandedBack(string reason) => new() { Error = reason, HandBack = true, Retryable = true };
}
