using System.Collections;
using System.Diagnostics;
using System.Globalization;

namespace Jobplane.Worker;

/// <summary>
/// Log scope for every line about one attempt: structured sinks see the fields, plain console
/// output shows them as key=value.
/// </summary>
public sealed class ExecutionLogScope(Guid executionId, Guid jobId, Guid tenantId, int attempt, ActivityTraceId? traceId = null)
    : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly KeyValuePair<string, object?>[] _fields = traceId is { } trace
        ? [new("execution_id", executionId), new("job_id", jobId), new("tenant_id", tenantId), new("attempt", attempt), new("trace_id", trace.ToHexString())]
        : [new("execution_id", executionId), new("job_id", jobId), new("tenant_id", tenantId), new("attempt", attempt)];

    public int Count => _fields.Length;
    public KeyValuePair<string, object?> this[int index] => _fields[index];
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() =>
        string.Join(' ', _fields.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key}={f.Value}")));
}
