using System.Collections;
using System.Diagnostics;
using System.Globalization;

namespace Jobplane.Controller.Observability;

/// <summary>
/// Log scope for the controller's lines about one execution: execution, job, tenant, attempt and
/// trace ids, as far as the caller knows them. JSON logs carry them as fields, text logs as key=value.
/// </summary>
internal sealed class ExecutionScope : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly List<KeyValuePair<string, object?>> _fields = [];

    /// <param name="parent">When there is no span (nothing listens), the trace the execution belongs to.</param>
    public ExecutionScope(Guid executionId, Guid? jobId = null, Guid? tenantId = null, int? attempt = null, Activity? span = null,
        ActivityContext parent = default)
    {
        _fields.Add(new("execution_id", executionId));
        if (jobId is { } j) _fields.Add(new("job_id", j));
        if (tenantId is { } t) _fields.Add(new("tenant_id", t));
        if (attempt is { } a) _fields.Add(new("attempt", a));
        if (span is null && parent != default) _fields.Add(new("trace_id", parent.TraceId.ToHexString()));
        else if ((span ?? Activity.Current) is { } s) _fields.Add(new("trace_id", s.TraceId.ToHexString()));
    }

    public int Count => _fields.Count;
    public KeyValuePair<string, object?> this[int index] => _fields[index];
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => _fields.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() =>
        string.Join(' ', _fields.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key}={f.Value}")));
}
