using Jobplane.Api;
using Jobplane.Controller.Observability;
using Jobplane.Store;

namespace Jobplane.Controller.Queue;

/// <summary>What one dequeue asks for, once its request has been checked.</summary>
public sealed record DequeueClaim(int Limit, string WorkerId, Guid[]? Tenants, string? Runtime, WorkerGrants Grants, TimeSpan Wait);

/// <summary>
/// A worker's long-poll: claim; if nothing is ready, wait in <see cref="IdleWaiters"/> until it is this
/// poll's turn (a ready notification, a claim of the same shape that found work, the periodic
/// re-check) and claim again, until the wait is used up. Ends early, empty, when the client goes away
/// or the controller shuts down. Holds no state between calls: any replica serves any worker.
/// </summary>
public sealed class LongPollDequeue(QueueStore queue, ReadySignal ready, ControllerOptions options, ControllerMetrics metrics,
    ExecutionTelemetry telemetry, TimeProvider time, IHostApplicationLifetime lifetime)
{
    /// <summary>Waiters a claim that found work wakes: enough to fan a burst out in a few rounds.</summary>
    private const int FanOut = 2;

    /// <summary>The executions claimed (possibly none); null when the worker went away and its claims were handed back.</summary>
    public async Task<IReadOnlyList<ClaimedAttempt>?> ClaimAsync(DequeueClaim claim, CancellationToken requestAborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, lifetime.ApplicationStopping);
        var started = time.GetTimestamp();
        var waiters = ready.Waiters;
        string? shape = null;
        try
        {
            while (true)
            {
                var seen = waiters.Notifications; // read before claiming, so a notification in between is not missed
                var claimStart = time.GetTimestamp();
                var claimed = await queue.ClaimAsync(claim.Limit, claim.WorkerId, claim.Tenants, options.LeaseDuration, stop.Token, claim.Runtime,
                    claim.Grants, options.FairShareMaxFraction);
                metrics.ClaimLatency(time.GetElapsedTime(claimStart), claimed.Count);
                claimed = telemetry.Claimed(claimed, claimStart, claim.WorkerId, options.LeaseDuration);
                if (claimed.Count > 0)
                {
                    // There may be more where this came from: the next waiters of this shape look.
                    waiters.WakeNext(shape ??= IdleWaiters.ShapeOf(claim), FanOut);
                }
                if (claimed.Count > 0 && requestAborted.IsCancellationRequested)
                {
                    // The worker went away while we claimed for it: it will never run these. Hand
                    // them back now (uncharged) rather than let them wait out a lease nobody holds.
                    foreach (var c in claimed)
                        await queue.ReleaseAsync(c.ExecutionId, c.LeaseToken, "the worker disconnected before it received the claim", CancellationToken.None);
                    return null;
                }
                var remaining = claim.Wait - time.GetElapsedTime(started);
                if (claimed.Count > 0 || remaining <= TimeSpan.Zero) return claimed;
                var waiter = waiters.Enter(shape ??= IdleWaiters.ShapeOf(claim), seen);
                try
                {
                    await Task.WhenAny(waiter.Woken, Task.Delay(remaining, time, stop.Token));
                }
                finally
                {
                    // Woken or not, the loop claims once more unless the poll is ending now; a turn it
                    // got and will not use goes to the next waiter.
                    waiters.Leave(waiter, claimsAgain: !stop.IsCancellationRequested);
                }
                stop.Token.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return [];
        }
    }
}
