namespace Jobplane.Worker.Runtimes;

/// <summary>The outcomes every runtime reports the same way.</summary>
public static class RunOutcomes
{
    /// <summary>The spec or the job itself is at fault: the same attempt would fail again.</summary>
    public static RunOutcome Refused(string error) => new() { Error = error, Retryable = false };

    public static RunOutcome Stopped(int? exitCode) =>
        new() { ExitCode = exitCode, Stopped = true, Error = OutcomeText.StoppedError, Retryable = true };

    public static RunOutcome TimedOut(int exitCode, TimeSpan timeout) =>
        new() { ExitCode = exitCode, TimedOut = true, Error = OutcomeText.TimedOut(timeout), Retryable = true };
}
