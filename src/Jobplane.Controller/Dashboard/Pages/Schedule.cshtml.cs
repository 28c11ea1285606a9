using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Schedules;
using Jobplane.Store.Dashboard;
using Jobplane.Store.Schedules;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// One schedule: its definition and where it stands, its history (paged, newest first), and Pause,
/// Resume and Trigger, which are the API's own store operations (<see cref="ScheduleStore"/>) with the
/// same audit records. As in the API, a suspended tenant may pause but not resume or trigger. The
/// administrator may pause and resume any tenant's schedule; triggering is a run, which is the
/// tenant's act.
/// </summary>
public sealed class ScheduleModel(ScheduleQueries queries, ScheduleStore store, ControllerMetrics metrics) : DashboardPage
{
    public const int HistoryPage = 50;

    public ScheduleSummary Summary { get; private set; } = null!;
    public ScheduleView View { get; private set; } = null!;
    public IReadOnlyList<ScheduleFireRecord> History { get; private set; } = [];
    public long? OlderBefore { get; private set; }
    public bool Continued { get; private set; }
    public bool Missing { get; private set; }

    public bool Suspended => Summary.TenantSuspended || Viewer.TenantSuspended;

    public async Task<IActionResult> OnGetAsync(string id, string? before, CancellationToken ct)
    {
        long? beforeId = null;
        if (!string.IsNullOrEmpty(before))
        {
            if (long.TryParse(before, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b > 0)
            {
                beforeId = b;
                Continued = true;
            }
            else Problem = "That page link is not valid; showing the newest history.";
        }
        return await LoadAsync(id, beforeId, ct) ? Page() : NotFoundPage();
    }

    public Task<IActionResult> OnPostPauseAsync(string id, CancellationToken ct) =>
        ActAsync(id, "paused", async (s, c) => await store.PauseAsync(s.TenantId, s.Id, Viewer.Actor, c) is not null, ct);

    public Task<IActionResult> OnPostResumeAsync(string id, CancellationToken ct) =>
        ActAsync(id, "resumed", async (s, c) =>
        {
            if (Suspended) return Refused("This tenant is suspended: its schedules cannot be resumed until an administrator resumes the tenant. Nothing changed.");
            return await store.ResumeAsync(s.TenantId, s.Id, Viewer.Actor, c) is not null;
        }, ct);

    public Task<IActionResult> OnPostTriggerAsync(string id, CancellationToken ct) =>
        ActAsync(id, "triggered", async (s, c) =>
        {
            if (Viewer.IsAdministrator) return Refused("Triggering runs the tenant's job, which is the tenant's act: sign in with one of its API keys. Nothing changed.");
            if (Suspended) return Refused("This tenant is suspended: nothing new can be run until an administrator resumes it. Nothing changed.");
            if (await store.TriggerAsync(s.TenantId, s.Id, Viewer.Actor, c) is null) return false;
            metrics.Submitted(ExecutionStatus.Pending);
            return true;
        }, ct);

    /// <summary>
    /// Reads the schedule in the viewer's scope (another tenant's is 404 as a missing one is), then
    /// acts: the action answers true when done, false when the schedule vanished, or refuses through
    /// <see cref="Refused"/>, which shows the page again with the reason.
    /// </summary>
    private async Task<IActionResult> ActAsync(string id, string notice, Func<ScheduleRecord, CancellationToken, Task<bool>> act, CancellationToken ct)
    {
        if (!await LoadAsync(id, null, ct)) return NotFoundPage();
        var done = await act(Summary.Schedule, ct);
        if (Problem is not null)
        {
            Response.StatusCode = 403;
            return Page();
        }
        return done ? Done($"/ui/schedules/{Summary.Schedule.Id}", notice) : NotFoundPage();
    }

    private bool Refused(string problem)
    {
        Problem = problem;
        return false;
    }

    private async Task<bool> LoadAsync(string id, long? beforeId, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var scheduleId)) return false;
        var summary = await queries.GetAsync(Viewer.Scope, scheduleId, ct);
        if (summary is null) return false;
        Summary = summary;
        View = ScheduleEndpoints.ToWire(summary.Schedule);
        // schedule_fires_history_idx, scoped by the schedule's tenant (the viewer's own, for a tenant).
        var history = await store.HistoryAsync(summary.Schedule.TenantId, scheduleId, beforeId, HistoryPage, ct);
        if (history is null) return false;
        History = history.Value.Items;
        OlderBefore = history.Value.More ? History[^1].Id : null;
        return true;
    }

    private PageResult NotFoundPage()
    {
        Missing = true;
        Response.StatusCode = 404;
        return Page();
    }
}
