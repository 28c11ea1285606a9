using System.Diagnostics;
using Jobplane.Worker.Observability;

namespace Jobplane.Worker.Runtimes;

/// <summary>
/// Spans a runtime opens around the phases of an attempt, inside the attempt's span: "start" (until
/// the job is running) and "wait" (until it has ended). Every runtime names its phases the same way.
/// </summary>
public static class RuntimeTracing
{
    public static Activity? Start(string runtime, string phase)
    {
        // Checked first: the span's name is built per call.
        if (!WorkerTracing.Source.HasListeners()) return null;
        var span = WorkerTracing.Source.StartActivity($"jobplane.runtime.{phase}");
        span?.SetTag("jobplane.runtime", runtime);
        return span;
    }
}
