namespace Jobplane.Worker;

/// <summary>Why the worker stopped an attempt before it finished by itself.</summary>
public enum StopReason
{
    None,
    /// <summary>The worker no longer holds this attempt's lease: another attempt may run. Kill at once; report nothing.</summary>
    LeaseLost,
    /// <summary>A user cancelled the execution: stop politely, then report.</summary>
    Cancelled,
    /// <summary>The worker is shutting down and the drain timeout passed: stop politely, hand the lease back.</summary>
    Shutdown,
}

/// <summary>
/// One attempt this worker is running: its lease, the local deadline by which the lease must have
/// been confirmed again, and the switches that stop (gracefully) or kill (at once) its job.
/// </summary>
public sealed class RunningAttempt(Guid executionId, Guid leaseToken, int attempt, long leaseDeadline) : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _kill = new();
    private int _reason;
    private long _leaseDeadline = leaseDeadline;

    public Guid ExecutionId { get; } = executionId;
    public Guid LeaseToken { get; } = leaseToken;
    public int Attempt { get; } = attempt;
    public CancellationToken StopToken => _stop.Token;
    public CancellationToken KillToken => _kill.Token;
    public StopReason Reason => (StopReason)Volatile.Read(ref _reason);

    /// <summary>
    /// TimeProvider timestamp after which this worker can no longer be sure it holds the lease. Only
    /// ever moves forward: a slow heartbeat answer must not shorten what a newer one granted.
    /// </summary>
    public long LeaseDeadline => Volatile.Read(ref _leaseDeadline);

    public void ExtendLease(long deadline)
    {
        long current;
        do
        {
            current = Volatile.Read(ref _leaseDeadline);
            if (deadline <= current) return;
        } while (Interlocked.CompareExchange(ref _leaseDeadline, deadline, current) != current);
    }

    /// <summary>Stops the attempt; the first reason given wins. A lost lease also kills at once.</summary>
    public void Stop(StopReason reason)
    {
        if (Interlocked.CompareExchange(ref _reason, (int)reason, (int)StopReason.None) == (int)StopReason.None)
            Cancel(_stop);
        if (reason == StopReason.LeaseLost)
        {
            // Someone else may be running this execution already: no grace period.
            Cancel(_stop);
            Cancel(_kill);
        }
    }

    private static void Cancel(CancellationTokenSource cts)
    {
        try { cts.Cancel(); }
        catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        _stop.Dispose();
        _kill.Dispose();
    }
}
