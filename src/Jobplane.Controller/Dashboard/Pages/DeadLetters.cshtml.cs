using System.Text.Json;
using Jobplane.Api;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.Http;
using Jobplane.Controller.Images;
using Jobplane.Observability;
using Jobplane.Store;
using Jobplane.Store.Dashboard;
using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// The scope's unretried dead letters, newest first (<see cref="DeadLetterQueries"/>), optionally one
/// job's; and retry (the selection, or all of them) and purge, through the API's own store
/// operations and bounds: the registry check first, at most <see cref="ExecutionEndpoints.MaxBulkRetry"/>
/// retried per action (the oldest first), a suspended tenant may purge but not retry. "Retry all"
/// and "Purge all" first show the count and ask again; each action writes one audit record
/// (dashboard.dlq_retry, dashboard.dlq_purge) in the statement that makes the change. The
/// administrator lists across tenants, and acts on one tenant's at a time.
/// </summary>
public sealed class DeadLettersModel(DeadLetterQueries queries, ExecutionStore store, JobStore jobs, ActivityQueries tenants, ImageAdmission images,
    ControllerMetrics metrics) : DashboardPage
{
    public const int PageSize = 100;

    public enum Confirmation { None, RetryAll, Purge }

    public DeadLetterPage Rows { get; private set; } = new([], null, false);
    /// <summary>The tenant listed and acted on: the viewer's own, or the one the administrator chose (null: every tenant).</summary>
    public Guid? Tenant { get; private set; }
    public string? TenantName { get; private set; }
    public bool TenantSuspended { get; private set; }
    /// <summary>The job filter as typed (a job's name), and the job it names.</summary>
    public string JobFilter { get; private set; } = "";
    public Guid? JobId { get; private set; }
    public bool Continued { get; private set; }
    public string? NextUrl { get; private set; }
    public IReadOnlyList<(Guid Id, string Name, bool Suspended)> Tenants { get; private set; } = [];
    public Confirmation Confirm { get; private set; }
    public DeadLetterCount? ConfirmCount { get; private set; }

    /// <summary>Actions are offered: a viewer who may act, and one tenant in view.</summary>
    public bool CanAct => Viewer.CanAct && Tenant is not null && TenantName is not null;

    public async Task<IActionResult> OnGetAsync(string? tenant, string? job, string? after, CancellationToken ct)
    {
        if (!await FilterAsync(tenant, job, ct)) return Page();
        PagePosition? position = null;
        if (!string.IsNullOrEmpty(after))
        {
            if (PageCursor.TryDecode(after, PageCursor.Lists.DeadLetters, out position, out _)) Continued = true;
            else Problem = "That page link is not valid; showing the first page.";
        }
        await ListAsync(position, ct);
        return Page();
    }

    public async Task<IActionResult> OnPostRetrySelectedAsync([FromForm] string? tenant, [FromForm] string? job, [FromForm(Name = "id")] string[]? ids,
        CancellationToken ct)
    {
        if (await ActingTenantAsync(tenant, job, retry: true, ct) is not { } t) return await ShowAsync(ct);
        var selected = new List<Guid>();
        foreach (var text in ids ?? [])
        {
            if (!Guid.TryParse(text, out var id)) return await ShowAsync(ct, 400, "The selection holds something that is not a dead letter's id. Nothing was retried.");
            selected.Add(id);
        }
        if (selected.Count == 0) return await ShowAsync(ct, 400, "Select the dead letters to retry first. Nothing was retried.");
        if (selected.Count > PageSize) return await ShowAsync(ct, 400, $"Select at most {PageSize} dead letters at once. Nothing was retried.");
        selected = [.. selected.Distinct()];
        var check = await images.CheckAsync(async c =>
        {
            var found = new List<JobImage>();
            foreach (var id in selected) found.AddRange(await store.DeadLetterImageAsync(t, id, c));
            return [.. found.DistinctBy(j => j.JobId)];
        }, ct);
        if (check.Refused is not null) return await ShowAsync(ct, 403, check.Message + ". Nothing was retried.");
        var result = await store.RetryDeadLettersAsync(t, null, selected.Count, ct, TraceParent.ForExecutions(System.Diagnostics.Activity.Current), check.AllowedJobs, selected,
            Audit("dashboard.dlq_retry", selected.Count));
        metrics.Submitted(ExecutionStatus.Pending, result.Retried);
        return Done(PageUrl(), result.Retried == 0 ? "nothing" : "retried", result.Retried);
    }

    public async Task<IActionResult> OnPostRetryAllAsync([FromForm] string? tenant, [FromForm] string? job, [FromForm] string? confirm, CancellationToken ct)
    {
        if (await ActingTenantAsync(tenant, job, retry: true, ct) is not { } t) return await ShowAsync(ct);
        if (confirm != "yes") return await AskAsync(Confirmation.RetryAll, t, ct);
        var check = await images.CheckAsync(c => store.DeadLetterImagesAsync(t, JobId, c), ct);
        if (check.Refused is not null) return await ShowAsync(ct, 403, check.Message + ". Nothing was retried.");
        var result = await store.RetryDeadLettersAsync(t, JobId, ExecutionEndpoints.MaxBulkRetry, ct, TraceParent.ForExecutions(System.Diagnostics.Activity.Current), check.AllowedJobs,
            audit: Audit("dashboard.dlq_retry"));
        metrics.Submitted(ExecutionStatus.Pending, result.Retried);
        return Done(PageUrl(), result.Retried == 0 ? "nothing" : "retried", result.Retried);
    }

    public async Task<IActionResult> OnPostPurgeAsync([FromForm] string? tenant, [FromForm] string? job, [FromForm] string? confirm, CancellationToken ct)
    {
        if (await ActingTenantAsync(tenant, job, retry: false, ct) is not { } t) return await ShowAsync(ct);
        if (confirm != "yes") return await AskAsync(Confirmation.Purge, t, ct);
        var purged = await store.PurgeDeadLettersAsync(t, JobId, ct, Audit("dashboard.dlq_purge"));
        return Done(PageUrl(), purged == 0 ? "nothing" : "purged", purged);
    }

    /// <summary>The confirmation step of a bulk action: the count it would take, and a form that acts.</summary>
    private async Task<IActionResult> AskAsync(Confirmation what, Guid tenant, CancellationToken ct)
    {
        var count = await queries.CountAsync(tenant, JobId, ct);
        if (count.Count == 0) return Done(PageUrl(), "nothing");
        Confirm = what;
        ConfirmCount = count;
        return await ShowAsync(ct);
    }

    /// <summary>
    /// The tenant a POST acts on, with the filters read: the viewer's own, or the one the administrator
    /// named. Null when it may not act (the reason is in <see cref="DashboardPage.Problem"/>).
    /// </summary>
    private async Task<Guid?> ActingTenantAsync(string? tenant, string? job, bool retry, CancellationToken ct)
    {
        if (!await FilterAsync(tenant, job, ct))
        {
            Response.StatusCode = 400;
            return null;
        }
        if (Tenant is not { } t || TenantName is null)
        {
            Response.StatusCode = 400;
            Problem = "Choose a tenant first: acting on every tenant's dead letters at once is not offered. Nothing changed.";
            return null;
        }
        if (retry && TenantSuspended)
        {
            Response.StatusCode = 403;
            Problem = "This tenant is suspended: nothing new can be run until an administrator resumes it, so its dead letters cannot be retried. Nothing changed.";
            return null;
        }
        return t;
    }

    /// <summary>
    /// Reads the tenant and job filters. The tenant is the viewer's own (a tenant cannot name another)
    /// or the administrator's choice; a job filter needs a tenant, and a name that is none of its jobs
    /// is a problem, not an unfiltered list. False when the filters are not usable.
    /// </summary>
    private async Task<bool> FilterAsync(string? tenant, string? job, CancellationToken ct) =>
        _filtersUsable = await ReadFiltersAsync(tenant, job, ct);

    private bool _filtersUsable;

    private async Task<bool> ReadFiltersAsync(string? tenant, string? job, CancellationToken ct)
    {
        if (Viewer.IsAdministrator)
        {
            Tenants = await tenants.TenantsAsync(500, ct);
            if (!string.IsNullOrEmpty(tenant))
            {
                if (!Guid.TryParse(tenant, out var chosen))
                {
                    Problem = "The tenant filter must be a tenant's id.";
                    return false;
                }
                Tenant = chosen;
                if (await queries.TenantAsync(chosen, ct) is not { } found)
                {
                    Problem = "There is no such tenant.";
                    return false;
                }
                (TenantName, TenantSuspended) = found;
            }
        }
        else
        {
            Tenant = Viewer.TenantId;
            TenantName = Viewer.TenantName;
            TenantSuspended = Viewer.TenantSuspended;
        }
        JobFilter = job?.Trim() ?? "";
        if (JobFilter.Length == 0) return true;
        if (Tenant is not { } t)
        {
            Problem = "Choose a tenant to filter by job.";
            return false;
        }
        JobId = await jobs.FindIdAsync(t, JobFilter, ct);
        if (JobId is null && Guid.TryParse(JobFilter, out var id) && await jobs.GetAsync(t, id, ct) is not null) JobId = id;
        if (JobId is null)
        {
            Problem = $"There is no job named “{JobFilter}”.";
            return false;
        }
        return true;
    }

    private async Task ListAsync(PagePosition? position, CancellationToken ct)
    {
        Rows = await queries.ListAsync(Tenant, JobId, position, PageSize, ct);
        if (Rows.Next is { } next) NextUrl = PageUrl(PageCursor.Encode(PageCursor.Lists.DeadLetters, next));
    }

    /// <summary>The page again (first page of the filters read), after a refusal or with a confirmation.</summary>
    private async Task<IActionResult> ShowAsync(CancellationToken ct, int? status = null, string? problem = null)
    {
        if (status is { } s) Response.StatusCode = s;
        if (problem is not null) Problem = problem;
        // Usable filters list their first page; unusable ones list nothing rather than everything.
        if (_filtersUsable) await ListAsync(null, ct);
        return Page();
    }

    /// <summary>The audit record of a bulk action: who, and the filter it acted on (the statement adds the count).</summary>
    private BulkAudit Audit(string action, int? selected = null)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (selected is { } n) json.WriteNumber("selected", n);
            else json.WriteBoolean("all", true);
            if (JobId is { } job)
            {
                json.WriteString("job_id", job);
                json.WriteString("job", JobFilter);
            }
            json.WriteEndObject();
        }
        return new BulkAudit(Viewer.Actor, action, System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>This page with the current filters (and a position).</summary>
    public string PageUrl(string? after = null)
    {
        var query = new List<string>();
        if (Viewer.IsAdministrator && Tenant is { } t) query.Add("tenant=" + t);
        if (JobFilter.Length > 0) query.Add("job=" + Uri.EscapeDataString(JobFilter));
        if (after is not null) query.Add("after=" + Uri.EscapeDataString(after));
        return "/ui/dead-letters" + (query.Count > 0 ? "?" + string.Join("&", query) : "");
    }

    /// <summary>A dead letter's error, cut for the list (the execution's page shows it whole).</summary>
    public static string Cut(string error, int max = 300) => error.Length <= max ? error : error[..max] + " …";
}
