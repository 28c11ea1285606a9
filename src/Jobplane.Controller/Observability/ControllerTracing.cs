using System.Diagnostics;

namespace Jobplane.Controller.Observability;

/// <summary>
/// The controller's spans. An execution's trace starts at the request that submits it (or continues
/// the caller's traceparent): the submit span's traceparent is stored with the execution, each
/// claim adds a span to that trace, and the worker continues from the claim's span.
/// </summary>
public static class ControllerTracing
{
    public const string SourceName = "Jobplane.Controller";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The span around creating executions of a job; its traceparent is stored with them.</summary>
    public static Activity? StartSubmit(Guid jobId, int count = 1)
    {
        var span = Source.StartActivity("jobplane.submit", ActivityKind.Producer);
        span?.SetTag("jobplane.job.id", jobId);
        if (count != 1) span?.SetTag("jobplane.submit.count", count);
        return span;
    }

    /// <summary>
    /// Requests that are not worth a trace of their own: scrapes, probes, and the worker API's
    /// background traffic (idle long-polls, heartbeats, log shipping, result batches). Claims and
    /// results still appear in each execution's trace: a batch's results each get a span there.
    /// </summary>
    public static bool IsQuiet(PathString path)
    {
        var p = path.Value ?? "";
        return p is "/metrics" or "/healthz" or "/readyz" or "/internal/heartbeats" or "/internal/executions/dequeue" or "/internal/results"
            || (p.StartsWith("/internal/executions/", StringComparison.Ordinal)
                && (p.EndsWith("/heartbeat", StringComparison.Ordinal) || p.EndsWith("/logs", StringComparison.Ordinal)));
    }
}
