using System.Globalization;
using System.Text;
using Jobplane.Api;
using Jobplane.Controller.Http;
using Jobplane.Store;
using Jobplane.Store.Dashboard;
using Microsoft.Extensions.Primitives;

namespace Jobplane.Controller.Dashboard;

/// <summary>
/// The executions list's filter as the URL (GET) or a bulk form (POST) carries it: status (repeated),
/// job (a name), schedule (an id), from and to (datetime-local, UTC), error (text), tenant (the
/// administrator's), cursor. Keeps what was typed, to show it again, and the values understood.
/// </summary>
public sealed record ExecutionListFilter
{
    public const int MaxErrorText = 200;
    private static readonly string[] TimeFormats = ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd"];

    public IReadOnlyList<string> Statuses { get; private init; } = [];
    public string? Job { get; private init; }
    public string? Schedule { get; private init; }
    public Guid? ScheduleId { get; private init; }
    public string? From { get; private init; }
    public DateTimeOffset? FromAt { get; private init; }
    public string? To { get; private init; }
    public DateTimeOffset? ToAt { get; private init; }
    public string? Error { get; private init; }
    public string? Tenant { get; private init; }
    public Guid? TenantId { get; private init; }
    public string? Cursor { get; private init; }
    public PagePosition? After { get; private init; }
    /// <summary>What is wrong with what was sent, in words for the page; null when all of it was understood.</summary>
    public string? Problem { get; private init; }

    public bool Any => Statuses.Count > 0 || Job is not null || Schedule is not null || From is not null || To is not null || Error is not null
        || Tenant is not null;

    public static ExecutionListFilter Parse(Func<string, StringValues> get, bool administrator)
    {
        var problems = new List<string>();
        string? Text(string name)
        {
            var v = get(name).ToString().Trim();
            return v.Length == 0 ? null : v;
        }
        var statuses = new List<string>();
        foreach (var s in get("status"))
        {
            if (string.IsNullOrWhiteSpace(s)) continue;
            if (ExecutionStatus.Parse(s) is { } status) { if (!statuses.Contains(status)) statuses.Add(status); }
            else problems.Add($"Status must be one of {string.Join(", ", ExecutionStatus.All)}.");
        }
        var job = Text("job");
        if (job is not null && (job.Length > Limits.MaxNameLength || !StorableText.IsStorable(job) || job.Any(char.IsControl)))
            problems.Add($"A job name has at most {Limits.MaxNameLength} characters, none of them control characters.");
        var schedule = Text("schedule");
        Guid? scheduleId = null;
        if (schedule is not null)
        {
            if (Guid.TryParse(schedule, out var g)) scheduleId = g;
            else problems.Add("Schedule must be a schedule id (a UUID).");
        }
        var from = Text("from");
        var fromAt = Time(from, "Created from", problems);
        var to = Text("to");
        var toAt = Time(to, "Created before", problems);
        if (fromAt is { } f && toAt is { } t && t <= f) problems.Add("“Created before” must be later than “Created from”.");
        var error = Text("error");
        if (error is not null && (error.Length > MaxErrorText || !StorableText.IsStorable(error) || error.Any(char.IsControl)))
            problems.Add($"The error text has at most {MaxErrorText} characters, none of them control characters.");
        var tenant = administrator ? Text("tenant") : null;
        Guid? tenantId = null;
        if (tenant is not null)
        {
            if (Guid.TryParse(tenant, out var g)) tenantId = g;
            else problems.Add("Tenant must be a tenant id.");
        }
        var cursor = Text("cursor");
        PagePosition? after = null;
        if (cursor is not null)
        {
            if (PageCursor.TryDecode(cursor, PageCursor.Lists.Executions, out PagePosition? position, out _)) after = position;
            else problems.Add("This page's position (cursor) is not valid: start again from the newest.");
        }
        return new ExecutionListFilter
        {
            Statuses = statuses,
            Job = job,
            Schedule = schedule,
            ScheduleId = scheduleId,
            From = from,
            FromAt = fromAt,
            To = to,
            ToAt = toAt,
            Error = error,
            Tenant = tenant,
            TenantId = tenantId,
            Cursor = cursor,
            After = after,
            Problem = problems.Count == 0 ? null : string.Join(" ", problems.Distinct()),
        };
    }

    private static DateTimeOffset? Time(string? text, string label, List<string> problems)
    {
        if (text is null) return null;
        if (DateTime.TryParseExact(text, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            return new DateTimeOffset(t, TimeSpan.Zero);
        problems.Add($"“{label}” must be a date and time in UTC, such as 2025-01-31T13:45.");
        return null;
    }

    /// <summary>The filter as the store applies it.</summary>
    public ExecutionFilter ToStore() => new()
    {
        Statuses = Statuses,
        ScheduleId = ScheduleId,
        CreatedFrom = FromAt,
        CreatedTo = ToAt,
        ErrorText = Error,
    };

    /// <summary>The list's URL with this filter, starting at <paramref name="cursor"/> (null: the newest).</summary>
    public string Url(string? cursor = null)
    {
        var q = new StringBuilder();
        void Add(string name, string? value)
        {
            if (value is null) return;
            q.Append(q.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }
        foreach (var s in Statuses) Add("status", s);
        Add("job", Job);
        Add("schedule", Schedule);
        Add("from", From);
        Add("to", To);
        Add("error", Error);
        Add("tenant", Tenant);
        Add("cursor", cursor);
        return "/ui/executions" + q;
    }

    /// <summary>The filter's fields, for a form that carries it (a bulk action's).</summary>
    public IEnumerable<(string Name, string Value)> Fields()
    {
        foreach (var s in Statuses) yield return ("status", s);
        if (Job is not null) yield return ("job", Job);
        if (Schedule is not null) yield return ("schedule", Schedule);
        if (From is not null) yield return ("from", From);
        if (To is not null) yield return ("to", To);
        if (Error is not null) yield return ("error", Error);
        if (Tenant is not null) yield return ("tenant", Tenant);
    }

    /// <summary>The filter as an audit record's details name it.</summary>
    public Dictionary<string, object?> AuditDetails()
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (Statuses.Count > 0) d["status"] = Statuses.ToArray();
        if (Job is not null) d["job"] = Job;
        if (ScheduleId is { } s) d["schedule_id"] = s;
        if (FromAt is { } f) d["created_from"] = f;
        if (ToAt is { } t) d["created_before"] = t;
        if (Error is not null) d["error_contains"] = Error;
        if (TenantId is { } tenant) d["tenant_id"] = tenant;
        return d;
    }
}
