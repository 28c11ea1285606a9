namespace Jobplane.Worker;

/// <summary>Why the worker stopped an attempt before it finished by itself.</summary>
public enum StopReason
{
    None,
    /// <summary>The controller no longer recognises this attempt's lease: another attempt may run; report nothing.</summary>
    LeaseLost,
    /// <summary>The worker is shutting down and the drain timeout passed: hand the lease back.</summary>
    Shutdown,
}

/// <summary>One attempt this worker is running: its lease and the switch that stops it.</summary>
public sealed class RunningAttempt(Guid executionId, Guid leaseToken, int attempt) : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private int _reason;

    public Guid ExecutionId { get; } = executionId;
    public Guid LeaseToken { get; } = leaseToken;
    public int Attempt { get; } = attempt;
    public CancellationToken StopToken => _stop.Token;
    public StopReason Reason => (StopReason)Volatile.Read(ref _reason);

    /// <summary>Stops the attempt; the first reason given wins.</summary>
    public void Stop(StopReason reason)
    {
        if (Interlocked.CompareExchange(ref _reason, (int)reason, (int)StopReason.None) == (int)StopReason.None)
        {
            try { _stop.Cancel(); }
            catch (ObjectDisposedException) { }
        }
    }

    public void Dispose() => _stop.Dispose();
}
