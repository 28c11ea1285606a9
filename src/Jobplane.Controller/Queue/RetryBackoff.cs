namespace Jobplane.Controller.Queue;

/// <summary>
/// Exponential backoff with "equal jitter": attempt n waits between half and all of
/// min(cap, base * 2^(n-1)), so retries of jobs that failed together spread out instead of
/// returning as a herd, while the wait still grows with each failure.
/// </summary>
public sealed class RetryBackoff(TimeSpan baseDelay, TimeSpan cap)
{
    /// <summary>The wait before the next attempt, using the job's own base and cap (seconds) when it has them.</summary>
    public TimeSpan Delay(int failedAttempts, double? jobBaseSeconds, double? jobCapSeconds)
    {
        var b = jobBaseSeconds ?? baseDelay.TotalSeconds;
        var c = jobCapSeconds ?? Math.Max(cap.TotalSeconds, b);
        var exp = Math.Min(Math.Max(failedAttempts - 1, 0), 30);
        var ceiling = Math.Min(c, b * Math.Pow(2, exp));
        var half = ceiling / 2;
        return TimeSpan.FromSeconds(half + Random.Shared.NextDouble() * half);
    }
}
