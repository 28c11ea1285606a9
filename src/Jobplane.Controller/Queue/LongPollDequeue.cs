using Jobplane.Api;
using Jobplane.Controller.Observability;
using Jobplane.Store;

namespace Jobplane.Controller.Queue;

/// <summary>What one dequeue asks for, once its request has been checked.</summary>
public sealed record DequeueClaim(int Limit, string WorkerId, Guid[]? Tenants, string? Runtime, WorkerGrants Grants, TimeSpan Wait);

/// <summary>
/// A worker's long-poll: claim; if nothing is ready, wait for a ready notification (or the re-check
/// period) and claim again, until the wait is used up. Ends early, empty, when the client goes away
/// or the controller shuts down. Holds no state between calls: any replica serves any worker.
/// </summary>
public sealed class LongPollDequeue(QueueStore queue, ReadySignal ready, ControllerOptions options, ControllerMetrics metrics,
    ExecutionTelemetry telemetry, TimeProvider time, IHostApplicationLifetime lifetime)
{
    // Idle dequeuers re-check on this period even without a notification: LISTEN is a hint.
    private static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(2);

    /// <summary>The executions claimed (possibly none); null when the worker went away and its claims were handed back.</summary>
    public async Task<IReadOnlyList<ClaimedAttempt>?> ClaimAsync(DequeueClaim claim, CancellationToken requestAborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, lifetime.ApplicationStopping);
        var started = time.GetTimestamp();
        try
        {
            while (true)
            {
                var signal = ready.NextAsync(); // taken before claiming, so a notification in between is not missed
                var claimStart = time.GetTimestamp();
                var claimed = await queue.ClaimAsync(claim.Limit, claim.WorkerId, claim.Tenants, options.LeaseDuration, stop.Token, claim.Runtime,
                    claim.Grants, options.FairShareMaxFraction);
                metrics.ClaimLatency(time.GetElapsedTime(claimStart), claimed.Count);
                claimed = telemetry.Claimed(claimed, claimStart, claim.WorkerId, options.LeaseDuration);
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
                var nap = remaining < RecheckInterval ? remaining : RecheckInterval;
                await Task.WhenAny(signal, Task.Delay(nap, time, stop.Token));
                stop.Token.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return [];
        }
    }
}
