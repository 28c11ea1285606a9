namespace Jobplane.Worker;

/// <summary>
/// Waits between tries of one call to the controller: exponential with decorrelated jitter (each
/// wait is drawn between the first delay and three times the previous one), capped. The jitter
/// keeps many workers that failed together (a controller restart) from retrying in lockstep.
/// </summary>
public sealed class CallBackoff(TimeSpan first, TimeSpan cap, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;
    private TimeSpan _previous;

    /// <summary>The next wait: at least the first delay, at most the cap.</summary>
    public TimeSpan Next()
    {
        var previous = _previous == TimeSpan.Zero ? first : _previous;
        var upper = Math.Min(cap.Ticks, previous.Ticks * 3);
        var next = first.Ticks + (long)(_random.NextDouble() * Math.Max(0, upper - first.Ticks));
        _previous = TimeSpan.FromTicks(Math.Min(next, cap.Ticks));
        return _previous;
    }
}
