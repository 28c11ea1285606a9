using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Http;
using Jobplane.Controller.Schedules;
using Jobplane.Store;
using Jobplane.Store.Dashboard;
using Jobplane.Store.Schedules;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// The scope's recurring schedules, newest first (<see cref="ScheduleQueries"/>): when each fires, in
/// which zone, whether it is paused, its next five fire times (as the API computes next_fire_times)
/// and its last fire. The administrator sees every tenant's, or one tenant's.
/// </summary>
public sealed class SchedulesModel(ScheduleQueries queries, ActivityQueries tenants) : DashboardPage
{
    public const int PageSize = 50;

    public IReadOnlyList<(ScheduleSummary Summary, ScheduleView View)> Schedules { get; private set; } = [];
    public Guid? TenantFilter { get; private set; }
    public IReadOnlyList<(Guid Id, string Name, bool Suspended)> Tenants { get; private set; } = [];
    public string? NextUrl { get; private set; }
    public bool Continued { get; private set; }

    public async Task OnGetAsync(string? tenant, string? after, CancellationToken ct)
    {
        if (Viewer.IsAdministrator && !string.IsNullOrEmpty(tenant))
        {
            if (Guid.TryParse(tenant, out var t)) TenantFilter = t;
            else Problem = "The tenant filter must be a tenant's id; showing every tenant.";
        }
        PagePosition? position = null;
        if (!string.IsNullOrEmpty(after))
        {
            if (PageCursor.TryDecode(after, PageCursor.Lists.Schedules, out position, out _)) Continued = true;
            else Problem = "That page link is not valid; showing the first page.";
        }
        var page = await queries.ListAsync(Viewer.Scope ?? TenantFilter, position, PageSize, ct);
        Schedules = [.. page.Items.Select(s => (s, ScheduleEndpoints.ToWire(s.Schedule)))];
        if (page.More)
        {
            var last = page.Items[^1].Schedule;
            NextUrl = ListUrl(TenantFilter, PageCursor.Encode(PageCursor.Lists.Schedules, new PagePosition(last.CreatedAt, last.Id)));
        }
        if (Viewer.IsAdministrator) Tenants = await tenants.TenantsAsync(500, ct);
    }

    public static string ListUrl(Guid? tenant, string? after = null)
    {
        var query = new List<string>();
        if (tenant is { } t) query.Add("tenant=" + t);
        if (after is not null) query.Add("after=" + Uri.EscapeDataString(after));
        return "/ui/schedules" + (query.Count > 0 ? "?" + string.Join("&", query) : "");
    }

    /// <summary>When a schedule fires, in words: its cron expression, or its interval.</summary>
    public static string When(ScheduleView s) =>
        s.Cron is { } cron ? cron : "every " + DashboardHtml.Duration(TimeSpan.FromSeconds(s.IntervalSeconds ?? 0));

    /// <summary>An instant as the wall-clock time in the schedule's zone (empty for UTC, which the page shows anyway).</summary>
    public static string InZone(DateTimeOffset at, string zone)
    {
        if (zone == "UTC" || ScheduleTiming.FindZone(zone, out _) is not { } tz) return "";
        return TimeZoneInfo.ConvertTime(at, tz).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " " + zone;
    }
}
