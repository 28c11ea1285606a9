using System.Collections.ObjectModel;
using System.Diagnostics;
using Jobplane.Api;
using Jobplane.Observability;
using Jobplane.Worker.Runtimes;

namespace Jobplane.Worker.Observability;

/// <summary>
/// The worker's spans. Each attempt continues the trace its execution was submitted in (the claim
/// span the controller handed over): attempt, then the runtime's start and wait, then the result
/// report, whose HTTP call carries the trace on to the controller. The job joins it through TRACEPARENT.
/// </summary>
public static class WorkerTracing
{
    public const string SourceName = "Jobplane.Worker";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// The span of one attempt, a child of the execution's trace (a new trace when it has none);
    /// null, with nothing allocated, when no tracer listens.
    /// </summary>
    public static Activity? StartAttempt(ClaimedExecution claim, string workerId, string runtime)
    {
        // Checked first: parsing the traceparent allocates its ids.
        if (!Source.HasListeners()) return null;
        var p = claim.Payload;
        var span = Source.StartActivity("jobplane.attempt", ActivityKind.Consumer, TraceParent.Parse(p.TraceParent));
        if (span is null) return null;
        span.SetTag("jobplane.execution.id", claim.ExecutionId);
        span.SetTag("jobplane.job.id", p.JobId);
        span.SetTag("jobplane.job.name", p.JobName);
        span.SetTag("jobplane.tenant.id", p.TenantId);
        span.SetTag("jobplane.attempt", claim.Attempt);
        span.SetTag("jobplane.worker.id", workerId);
        span.SetTag("jobplane.runtime", runtime);
        return span;
    }

    /// <summary>Records how the attempt ended on its span.</summary>
    public static void Ended(Activity? span, RunOutcome outcome)
    {
        if (span is null) return;
        if (outcome.ExitCode is { } code) span.SetTag("process.exit.code", code);
        span.SetTag("jobplane.outcome", Outcome(outcome));
        if (!outcome.Succeeded) span.SetStatus(ActivityStatusCode.Error, outcome.Error ?? $"exit code {outcome.ExitCode}");
    }

    /// <summary>The span around reporting the result (its HTTP call is a child).</summary>
    public static Activity? StartReport() => Source.StartActivity("jobplane.result.report");

    /// <summary>
    /// The job's extra environment: TRACEPARENT, so the job's own spans join the execution's trace.
    /// It names the attempt span when there is one, otherwise the execution's own trace context as
    /// the claim handed it over (when nothing records spans here, the job still joins the trace).
    /// </summary>
    public static IReadOnlyDictionary<string, string> JobEnvironment(Activity? attempt, string? executionTraceParent) =>
        (TraceParent.Of(attempt) ?? (TraceParent.IsWellFormed(executionTraceParent) ? executionTraceParent : null)) is { } traceParent
            ? new Dictionary<string, string> { [TraceParent.EnvironmentVariable] = traceParent }
            : ReadOnlyDictionary<string, string>.Empty;

    /// <summary>One word for how an attempt ended: succeeded, failed, timed_out or stopped.</summary>
    public static string Outcome(RunOutcome outcome) =>
        outcome.Succeeded ? "succeeded" : outcome.TimedOut ? "timed_out" : outcome.Stopped ? "stopped" : "failed";
}
