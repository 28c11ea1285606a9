using System.Diagnostics;

namespace Jobplane.Observability;

/// <summary>W3C trace context (traceparent) as stored with an execution and handed to its job.</summary>
public static class TraceParent
{
    /// <summary>The environment variable a job reads to join its execution's trace.</summary>
    public const string EnvironmentVariable = "TRACEPARENT";

    /// <summary>The traceparent of <paramref name="activity"/> (W3C ids), or null.</summary>
    public static string? Of(Activity? activity) =>
        activity is { IdFormat: ActivityIdFormat.W3C } a ? a.Id : null;

    /// <summary>Parses a stored traceparent; default when absent or malformed.</summary>
    public static ActivityContext Parse(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, isRemote: true, out var context) ? context : default;
}
