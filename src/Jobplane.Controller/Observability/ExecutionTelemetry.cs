using System.Diagnostics;
using Jobplane.Api;
using Jobplane.Observability;
using Jobplane.Store;

namespace Jobplane.Controller.Observability;

/// <summary>
/// What the worker API records about executions besides answering: a claim span in each claimed
/// execution's trace, pickup latency, attempt outcomes with their duration, and the log lines about
/// them (each inside the execution's scope).
/// </summary>
public sealed class ExecutionTelemetry(ControllerMetrics metrics, TimeProvider time, ILogger<ExecutionTelemetry> logger)
{
    /// <summary>
    /// Records a claim made at <paramref name="claimStarted"/> (a <see cref="TimeProvider"/> timestamp)
    /// and returns the claimed executions with the traceparent of their claim span, which the worker
    /// continues. When no tracer listens there is no claim span: the executions are returned as they
    /// are, with the trace context they were submitted in, and nothing is allocated for them here.
    /// </summary>
    public IReadOnlyList<ClaimedAttempt> Claimed(IReadOnlyList<ClaimedAttempt> claimed, long claimStarted, string workerId, TimeSpan lease)
    {
        if (claimed.Count == 0) return claimed;
        var traced = ControllerTracing.Source.HasListeners();
        var logged = logger.IsEnabled(LogLevel.Debug);
        var startedAt = traced ? time.GetUtcNow() - time.GetElapsedTime(claimStarted) : default;
        var list = traced ? new List<ClaimedAttempt>(claimed.Count) : null;
        foreach (var c in claimed)
        {
            var p = c.Payload;
            // The claim began the attempt at lease expiry minus the lease, by the database clock, as did ScheduledAt.
            var pickup = p.ScheduledAt is { } due ? (c.LeaseExpiresAt - lease - due).TotalSeconds : (double?)null;
            if (pickup is { } s) metrics.Pickup(s);
            if (!traced && !logged) continue;

            // Parsed only here: it allocates the trace's ids.
            var parent = TraceParent.Parse(p.TraceParent);
            using var span = traced ? ControllerTracing.Source.StartActivity("jobplane.claim", ActivityKind.Consumer, parent, startTime: startedAt) : null;
            if (span is not null)
            {
                span.SetTag("jobplane.execution.id", c.ExecutionId);
                span.SetTag("jobplane.job.id", p.JobId);
                span.SetTag("jobplane.tenant.id", p.TenantId);
                span.SetTag("jobplane.attempt", c.Attempt);
                span.SetTag("jobplane.worker.id", workerId);
                if (pickup is { } ps) span.SetTag("jobplane.pickup.seconds", Math.Round(ps, 6));
            }
            if (logged)
            {
                using var scope = logger.BeginScope(new ExecutionScope(c.ExecutionId, p.JobId, p.TenantId, c.Attempt, span, parent));
                ControllerLog.Claimed(logger, c.ExecutionId, c.Attempt, workerId, pickup ?? 0);
            }
            list?.Add(TraceParent.Of(span) is { } claimSpan ? c with { Payload = p with { TraceParent = claimSpan } } : c);
        }
        return list ?? claimed;
    }

    /// <summary>
    /// An attempt's result was accepted and moved the execution to <paramref name="status"/>. A
    /// report that came in a batch names the worker's report span (<paramref name="reportTraceParent"/>):
    /// the completion gets a span of its own there, since the batch's request belongs to no one
    /// execution. Without a tracer or a line to write, nothing is parsed, started or tagged.
    /// </summary>
    public void Completed(Guid executionId, string status, ResultRequest request, string? reportTraceParent = null)
    {
        metrics.Completed(status);
        metrics.AttemptFinished(status, request.Runtime, request.DurationSeconds);
        var traced = ControllerTracing.Source.HasListeners();
        var logged = status == ExecutionStatus.Failed || logger.IsEnabled(LogLevel.Debug);
        // Parsed only when used: it allocates the trace's ids.
        var reportSpan = (traced || logged) && reportTraceParent is not null ? TraceParent.Parse(reportTraceParent) : default;
        using var own = traced && reportSpan != default
            ? ControllerTracing.Source.StartActivity("jobplane.complete", ActivityKind.Server, reportSpan)
            : null;
        var span = own ?? Activity.Current;
        // A request's span is tagged only when some listener records it: ASP.NET Core makes one per
        // request for its log scopes alone, and tags on it (a boxed id per report) would go nowhere.
        if (span is not null && (own is not null || span.Source.HasListeners()))
        {
            span.SetTag("jobplane.execution.id", executionId);
            span.SetTag("jobplane.execution.status", status);
        }
        if (logged)
        {
            // In a batch, the execution's own trace, not the batch request's.
            using var scope = logger.BeginScope(new ExecutionScope(executionId, span: own ?? (reportSpan == default ? Activity.Current : null),
                parent: reportSpan));
            if (status == ExecutionStatus.Failed) ControllerLog.DeadLettered(logger, executionId);
            else ControllerLog.Completed(logger, executionId, status);
        }
    }
}
