using System.Collections;
using System.Globalization;
using Jobplane.Observability;

namespace Jobplane.Worker;

/// <summary>
/// Log scope for every line about one attempt: structured sinks see the fields, plain console
/// output shows them as key=value.
/// <para>One is pushed for every attempt, but most attempts write no line at all: so it keeps the
/// raw values, and boxes them, or parses the trace id out of the traceparent, only when a
/// formatter reads the scope for a line that is actually written.</para>
/// </summary>
public sealed class ExecutionLogScope(Guid executionId, Guid jobId, Guid tenantId, int attempt, string? traceParent = null)
    : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly bool _traced = TraceParent.IsWellFormed(traceParent);
    private string? _text;

    public int Count => _traced ? 5 : 4;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("execution_id", executionId),
        1 => new("job_id", jobId),
        2 => new("tenant_id", tenantId),
        3 => new("attempt", attempt),
        // The traceparent's trace-id part, as the span's TraceId.ToHexString() would give it.
        4 when _traced => new("trace_id", traceParent![3..35]),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    // Kept once made: every line written in the attempt asks for it again.
    public override string ToString() =>
        _text ??= string.Join(' ', this.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key}={f.Value}")));
}
