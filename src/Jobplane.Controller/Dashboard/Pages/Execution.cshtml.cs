using System.Globalization;
using System.Text;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Observability;
using Jobplane.Store;
using Jobplane.Store.Dashboard;
using Microsoft.AspNetCore.Html;
using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// One execution: its fields, the timeline of its recorded transitions (execution_events), its
/// attempts, its result, and its log (the newest lines, then followed live over
/// <see cref="ExecutionLogStream"/> while it runs), with cancel and retry where they apply. The
/// actions are the API's own store operations, on the execution's tenant.
/// </summary>
public sealed class ExecutionModel(ExecutionQueries queries, ExecutionStore store, WorkerPseudonyms pseudonyms, ControllerOptions options,
    ControllerMetrics metrics, TimeProvider time) : DashboardPage
{
    public ExecutionDetail? Detail { get; private set; }
    public IReadOnlyList<TimelineItem> Timeline { get; private set; } = [];
    public bool MoreEvents { get; private set; }
    public IReadOnlyList<AttemptRecord> Attempts { get; private set; } = [];
    public bool MoreAttempts { get; private set; }
    public IReadOnlyList<LogRecord> Log { get; private set; } = [];
    public bool EarlierLog { get; private set; }
    public string? TraceUrl { get; private set; }

    /// <summary>One line of the timeline: when, what kind of event (for its marker), what happened, and the reason given.</summary>
    public sealed record TimelineItem(DateTimeOffset At, string Kind, string Text, string? Reason);

    public ExecutionRecord Execution => Detail!.Execution;
    public bool Finished => ExecutionStatus.IsTerminal(Execution.Status);
    public bool Stopping => Execution.Status == ExecutionStatus.Running && Execution.CancelRequestedAt is not null;
    public bool CanCancel => Viewer.CanAct && !Finished && !Stopping;
    public bool CanRetry => Viewer.CanAct && Detail!.Retryable;
    public string Path => "/ui/executions/" + Execution.Id;

    public async Task<IActionResult> OnGetAsync(string id, CancellationToken ct)
    {
        if (!await LoadAsync(id, ct)) return NotFoundPage();
        return Page();
    }

    public async Task<IActionResult> OnPostCancelAsync(string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId) || await queries.GetAsync(Viewer.Scope, executionId, ct) is not { } found) return NotFoundPage();
        try
        {
            // The API's cancel, on the execution's own tenant (the administrator acts on any).
            if (await store.CancelAsync(found.TenantId, executionId, ct) is null) return NotFoundPage();
            return Done("/ui/executions/" + executionId, "cancelled", 1);
        }
        catch (StoreConflictException)
        {
            return await RefuseAsync(id, 409, "This execution has already finished; there is nothing to cancel.", ct);
        }
    }

    public async Task<IActionResult> OnPostRetryAsync(string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId) || await queries.GetAsync(Viewer.Scope, executionId, ct) is not { } found) return NotFoundPage();
        if (!found.Retryable)
            return await RefuseAsync(id, 409, "Only a FAILED execution whose dead letter was not yet retried or purged can be retried.", ct);
        // As the API refuses it: a suspended tenant submits nothing new, and an image must still come from an allowed registry.
        if (found.TenantSuspended)
            return await RefuseAsync(id, 403, "This tenant is suspended: nothing new can be submitted or run until an administrator resumes it.", ct);
        if (!options.ImageRegistries.AllowsAny)
        {
            foreach (var job in await store.DeadLetterImageAsync(found.TenantId, executionId, ct))
            {
                if (options.ImageRegistries.Refusal(job.Image) is { } why)
                    return await RefuseAsync(id, 403, $"This job cannot run again: {why}.", ct);
            }
        }
        try
        {
            if (await store.RetryDeadLetterAsync(found.TenantId, executionId, ct, TraceParent.ForExecutions(System.Diagnostics.Activity.Current)) is null) return NotFoundPage();
            metrics.Submitted(ExecutionStatus.Pending);
            return Done("/ui/executions/" + executionId, "retried", 1);
        }
        catch (StoreConflictException)
        {
            return await RefuseAsync(id, 409, "This execution's dead letter was already retried.", ct);
        }
    }

    private async Task<IActionResult> RefuseAsync(string id, int status, string problem, CancellationToken ct)
    {
        Problem = problem;
        if (!await LoadAsync(id, ct)) return NotFoundPage();
        Response.StatusCode = status;
        return Page();
    }

    /// <summary>Not found and not the viewer's look the same.</summary>
    private Microsoft.AspNetCore.Mvc.RazorPages.PageResult NotFoundPage()
    {
        Detail = null;
        Response.StatusCode = StatusCodes.Status404NotFound;
        return Page();
    }

    private async Task<bool> LoadAsync(string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var executionId)) return false;
        Detail = await queries.GetAsync(Viewer.Scope, executionId, ct);
        if (Detail is null) return false;
        var events = await queries.EventsAsync(Detail.TenantId, executionId, ExecutionQueries.MaxEvents, ct);
        MoreEvents = events.Count > ExecutionQueries.MaxEvents;
        Timeline = BuildTimeline(events.Take(ExecutionQueries.MaxEvents).ToList());
        var attempts = await queries.AttemptsAsync(executionId, ExecutionQueries.MaxAttempts, ct);
        MoreAttempts = attempts.Count > ExecutionQueries.MaxAttempts;
        Attempts = [.. attempts.Take(ExecutionQueries.MaxAttempts)];
        (Log, EarlierLog) = await queries.TailLogAsync(executionId, ct);
        TraceUrl = TraceLink(options.Dashboard.TraceUiUrl, Detail.TraceParent);
        return true;
    }

    /// <summary>
    /// The operator's trace UI link for the execution's trace: the trace id is the second field of
    /// the stored W3C traceparent, used only when it parses as one (32 lowercase hex digits, not all zero).
    /// </summary>
    public static string? TraceLink(string? template, string? traceParent)
    {
        if (template is null || traceParent is null) return null;
        var context = TraceParent.Parse(traceParent);
        var traceId = context.TraceId.ToHexString();
        if (context == default || traceId.Length != 32 || traceId.All(ch => ch == '0') || !traceId.All(char.IsAsciiHexDigitLower))
            return null;
        return template.Replace("{trace_id}", traceId, StringComparison.Ordinal);
    }

    /// <summary>A tenant sees a pseudonym of a worker (as in the API), the administrator its id.</summary>
    public string? Worker(string? workerId) =>
        workerId is null ? null : Viewer.IsAdministrator ? workerId : pseudonyms.For(Detail!.TenantId, workerId);

    public string Duration => Execution.StartedAt is not { } started ? "—"
        : Execution.CompletedAt is { } done ? DashboardHtml.Duration(done - started)
        : Finished ? "—"
        : DashboardHtml.Duration(time.GetUtcNow() - started) + " so far";

    /// <summary>The log lines as encoded HTML, stderr lines marked: each line's text passes through the HTML encoder.</summary>
    public IHtmlContent LogHtml()
    {
        var encoder = System.Text.Encodings.Web.HtmlEncoder.Default;
        var html = new StringBuilder();
        foreach (var line in Log)
        {
            if (line.Stream == "stderr") html.Append("<span class=\"stderr\">").Append(encoder.Encode(line.Content)).Append("\n</span>");
            else html.Append(encoder.Encode(line.Content)).Append('\n');
        }
        return new HtmlString(html.ToString());
    }

    /// <summary>The live log's address: lines after the last one shown.</summary>
    public string StreamUrl => ExecutionLogStream.Route.Replace("{id}", Execution.Id.ToString(), StringComparison.Ordinal)
        + "?after=" + (Log.Count == 0 ? 0 : Log[^1].Id).ToString(CultureInfo.InvariantCulture);

    private List<TimelineItem> BuildTimeline(List<ExecutionEventRow> events)
    {
        var items = new List<TimelineItem>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var n = e.Attempt.ToString(CultureInfo.InvariantCulture);
            var worker = Worker(e.WorkerId);
            var text = (e.Kind, e.ToStatus) switch
            {
                ("submitted", ExecutionStatus.Scheduled) => "Submitted, to run at its scheduled time.",
                ("submitted", _) => "Submitted; ready to run.",
                ("retried_from_dlq", _) => "Created by retrying a dead letter; ready to run.",
                ("promoted", _) when e.FromStatus == ExecutionStatus.Retrying => "The retry became due; ready to run.",
                ("promoted", _) => "Its scheduled time came; ready to run.",
                ("claimed", _) => $"Attempt {n} started on worker {worker ?? "(unknown)"}.",
                ("succeeded", _) => $"Attempt {n} succeeded.",
                ("failed", ExecutionStatus.Retrying) => $"Attempt {n} failed; {Backoff(events, i)}.",
                ("failed", ExecutionStatus.Failed) => $"Attempt {n} failed, the last one allowed: the execution failed and went to the dead letters.",
                ("failed", ExecutionStatus.Cancelled) => $"Attempt {n} stopped after the cancel: the execution ended cancelled.",
                ("lost", ExecutionStatus.Failed) =>
                    $"Attempt {n} was lost (its worker stopped heartbeating), the last one allowed: the execution failed and went to the dead letters.",
                ("lost", ExecutionStatus.Cancelled) => $"Attempt {n} was lost after the cancel: the execution ended cancelled.",
                ("lost", _) => $"Attempt {n} was lost: its worker stopped heartbeating and the lease expired; back in the queue.",
                ("cancelled", ExecutionStatus.Running) => "Cancel requested: the worker stops it at its next heartbeat.",
                ("cancelled", _) => e.Attempt > 0 ? "Cancelled before it ran again." : "Cancelled before it ran.",
                ("handed_back", ExecutionStatus.Cancelled) => $"Attempt {n} was handed back after the cancel: the execution ended cancelled.",
                ("handed_back", _) => $"Attempt {n} was handed back by a draining worker (not counted); back in the queue.",
                _ => $"{e.Kind}: {e.FromStatus ?? "new"} → {e.ToStatus}.",
            };
            items.Add(new TimelineItem(e.At, e.Kind, text, e.Reason));
        }
        return items;
    }

    /// <summary>
    /// The wait before a retry: until the promotion that followed it (maintenance promotes a due
    /// retry within its interval), or, while the execution still waits, until its due time.
    /// </summary>
    private string Backoff(List<ExecutionEventRow> events, int failed)
    {
        var at = events[failed].At;
        for (var j = failed + 1; j < events.Count; j++)
        {
            if (events[j].Kind == "promoted") return $"it waited {DashboardHtml.Duration(events[j].At - at)} before the retry became due";
            if (events[j].Kind == "cancelled") return "it was cancelled while waiting to retry";
        }
        return Execution.Status == ExecutionStatus.Retrying
            ? $"retrying after a backoff of {DashboardHtml.Duration(Execution.ScheduledAt - at)} (due {Execution.ScheduledAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC)"
            : "retrying after a backoff";
    }
}
