using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Jobplane.Observability;

/// <summary>W3C trace context (traceparent) as stored with an execution and handed to its job.</summary>
public static class TraceParent
{
    /// <summary>The environment variable a job reads to join its execution's trace.</summary>
    public const string EnvironmentVariable = "TRACEPARENT";

    /// <summary>The traceparent of <paramref name="activity"/> (W3C ids), or null.</summary>
    public static string? Of(Activity? activity) =>
        activity is { IdFormat: ActivityIdFormat.W3C } a ? a.Id : null;

    /// <summary>
    /// The traceparent to store with executions that <paramref name="activity"/> (a submit span, or
    /// the request's own) creates. Without a tracer the request's activity exists for log scopes
    /// only and is never sampled; a root one is then stored as sampled, the decision the platform's
    /// sampler makes for every root that is not background chatter, so that a job whose own tracer
    /// follows its parent's decision still records its spans. A caller's decision is kept as sent.
    /// </summary>
    public static string? ForExecutions(Activity? activity) =>
        activity is { IdFormat: ActivityIdFormat.W3C, ParentId: null, Recorded: false } root && root.Source.Name.Length == 0
            ? string.Create(CultureInfo.InvariantCulture, $"00-{root.TraceId.ToHexString()}-{root.SpanId.ToHexString()}-01")
            : Of(activity);

    /// <summary>
    /// Whether <paramref name="traceParent"/> has the W3C shape (version 00:
    /// <c>00-{32 hex}-{16 hex}-{2 hex}</c>, ids not all zero), checked without allocating, so a
    /// traceparent can be passed on (to a job's environment) without parsing it into ids.
    /// </summary>
    public static bool IsWellFormed([NotNullWhen(true)] string? traceParent)
    {
        if (traceParent is not { Length: 55 } t || t[2] != '-' || t[35] != '-' || t[52] != '-' || !t.StartsWith("00", StringComparison.Ordinal))
            return false;
        var trace = t.AsSpan(3, 32);
        var span = t.AsSpan(36, 16);
        return !trace.ContainsAnyExcept(LowerHex) && !span.ContainsAnyExcept(LowerHex) && !t.AsSpan(53, 2).ContainsAnyExcept(LowerHex)
            && trace.ContainsAnyExcept('0') && span.ContainsAnyExcept('0');
    }

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    /// <summary>Parses a stored traceparent; default when absent or malformed.</summary>
    public static ActivityContext Parse(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, isRemote: true, out var context) ? context : default;
}
