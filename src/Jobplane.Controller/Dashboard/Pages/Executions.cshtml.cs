using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Auth;
using Jobplane.Controller.Http;
using Jobplane.Store;
using Jobplane.Store.Dashboard;
using Microsoft.AspNetCore.Mvc;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// The executions list: filtered, newest first, a page at a time (cursor paging through
/// <see cref="ExecutionQueries.ListAsync"/>), with cancel and retry on a selection or on everything
/// the filter matches (after a confirmation that shows how many).
/// </summary>
public sealed class ExecutionsModel(ExecutionQueries queries, ActivityQueries activity, ExecutionBulkActions bulk, WorkerPseudonyms pseudonyms,
    TimeProvider time) : DashboardPage
{
    public const int PageSize = 50;
    /// <summary>Rows a page reads at most, over all its index ranges, to find a page of matches.</summary>
    public const int ExaminePerPage = 20_000;
    /// <summary>Rows an "all matching" action reads at most, over all its index ranges.</summary>
    public const int ExaminePerAction = 100_000;
    /// <summary>
    /// The administrator's list without a tenant filter merges each tenant's own index range (there
    /// is no index across tenants by time, and the one per tenant serves every tenant's own list).
    /// A page then reads one range per tenant, and a filter's bound of rows read is shared among
    /// them: past this many tenants each would get too few rows to make progress, so the page asks
    /// for a tenant instead.
    /// </summary>
    public const int MaxTenantsMerged = 100;
    /// <summary>Executions one "selected" action takes at most (a page shows 50).</summary>
    public const int MaxSelected = 500;

    public ExecutionListFilter Filter { get; private set; } = ExecutionListFilter.Parse(_ => default, false);
    public ExecutionScan? Scan { get; private set; }
    public IReadOnlyList<(Guid Id, string Name, bool Suspended)> Tenants { get; private set; } = [];
    /// <summary>The lines saying what a bulk action skipped and why (from the redirect's URL; the words are ours).</summary>
    public IReadOnlyList<string> Skipped { get; private set; } = [];
    public BulkConfirmation? Confirm { get; private set; }

    /// <summary>A bulk action on all matching executions, counted, waiting for the user's confirmation.</summary>
    public sealed record BulkConfirmation(bool Cancel, int Count, bool More, bool StoppedAtBound, int Examined, long AsOfMicros);

    private static readonly Dictionary<string, string> SkipTexts = new(StringComparer.Ordinal)
    {
        [ExecutionBulkActions.Reasons.Finished] = "Skipped {0}: already finished.",
        [ExecutionBulkActions.Reasons.Stopping] = "Skipped {0}: already asked to stop; their workers are stopping them.",
        [ExecutionBulkActions.Reasons.NotFailed] = "Skipped {0}: not FAILED (a retry re-runs a failed execution's dead letter).",
        [ExecutionBulkActions.Reasons.AlreadyRetried] = "Skipped {0}: their dead letter was already retried or purged.",
        [ExecutionBulkActions.Reasons.ImageNotAllowed] = "Skipped {0}: their job's image is from a registry the operator no longer allows.",
        [ExecutionBulkActions.Reasons.TenantSuspended] = "Skipped {0}: their tenant is suspended.",
    };

    private static readonly string[] UnfinishedStatuses =
        [ExecutionStatus.Pending, ExecutionStatus.Scheduled, ExecutionStatus.Retrying, ExecutionStatus.Running];

    public async Task OnGetAsync(CancellationToken ct)
    {
        Skipped = [.. Request.Query["skipped"].Select(SkipLine).OfType<string>()];
        Filter = ExecutionListFilter.Parse(k => Request.Query[k], Viewer.IsAdministrator);
        await LoadTenantsAsync(ct);
        if (Filter.Problem is not null)
        {
            Problem = Filter.Problem;
            return;
        }
        if (await SourceAsync(ct) is not { } source) return;
        Scan = await queries.ListAsync(source, Filter.ToStore(), Filter.After, PageSize, ExaminePerPage / source.Ranges, ct);
    }

    public Task<IActionResult> OnPostCancelSelectedAsync(CancellationToken ct) => SelectedAsync(cancel: true, ct);

    public Task<IActionResult> OnPostRetrySelectedAsync(CancellationToken ct) => SelectedAsync(cancel: false, ct);

    public Task<IActionResult> OnPostCancelMatchingAsync(CancellationToken ct) => MatchingAsync(cancel: true, ct);

    public Task<IActionResult> OnPostRetryMatchingAsync(CancellationToken ct) => MatchingAsync(cancel: false, ct);

    private async Task<IActionResult> SelectedAsync(bool cancel, CancellationToken ct)
    {
        var form = Request.Form;
        Filter = ExecutionListFilter.Parse(k => form[k], Viewer.IsAdministrator);
        var back = Filter.Problem is null ? Filter.Url(Filter.Cursor) : "/ui/executions";
        var ids = new HashSet<Guid>();
        foreach (var value in form["id"])
        {
            if (!Guid.TryParse(value, out var id)) return await RefuseAsync(404, "The selected executions were not found. Nothing changed.", ct);
            ids.Add(id);
        }
        if (ids.Count == 0) return Done(back, "none_selected");
        if (ids.Count > MaxSelected)
            return await RefuseAsync(400, $"Select at most {MaxSelected} executions at once, or act on all that match the filter. Nothing changed.", ct);
        var candidates = await queries.CandidatesAsync(Viewer.Scope, [.. ids], ct);
        // "Not yours" looks like "does not exist": one id out of scope refuses the whole action.
        if (candidates.Count < ids.Count) return await RefuseAsync(404, "Some of the selected executions were not found. Nothing changed.", ct);
        var what = new Dictionary<string, object?>(StringComparer.Ordinal) { ["selection"] = true, ["filter"] = null };
        var result = cancel ? await bulk.CancelAsync(Viewer, candidates, what, ct) : await bulk.RetryAsync(Viewer, candidates, what, ct);
        return Finished(back, cancel, result);
    }

    private async Task<IActionResult> MatchingAsync(bool cancel, CancellationToken ct)
    {
        var form = Request.Form;
        Filter = ExecutionListFilter.Parse(k => form[k], Viewer.IsAdministrator);
        if (Filter.Problem is not null) return await RefuseAsync(400, Filter.Problem + " Nothing changed.", ct);
        var back = Filter.Url();
        await LoadTenantsAsync(ct);
        if (await SourceAsync(ct) is not { } source)
        {
            Response.StatusCode = 400;
            return Page();
        }
        // What the action can take among what the filter matches: unfinished executions for a
        // cancel, failed ones with their dead letter for a retry.
        var filter = Filter.ToStore();
        if (cancel)
        {
            var statuses = Filter.Statuses.Count == 0 ? UnfinishedStatuses : [.. Filter.Statuses.Intersect(UnfinishedStatuses)];
            if (statuses.Length == 0) return Done(back, "nothing");
            filter = filter with { Statuses = statuses };
        }
        else
        {
            if (Filter.Statuses.Count > 0 && !Filter.Statuses.Contains(ExecutionStatus.Failed)) return Done(back, "nothing");
            filter = filter with { Statuses = [], OnlyRetryable = true };
        }
        var confirmed = form["confirm"] == "yes";
        if (confirmed)
        {
            if (!long.TryParse(form["asof"], NumberStyles.None, CultureInfo.InvariantCulture, out var micros) || micros > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() * 1000)
                return await RefuseAsync(400, "This confirmation is not valid; count again. Nothing changed.", ct);
            filter = filter with { AsOf = DateTimeOffset.UnixEpoch.AddTicks(micros * 10) };
        }
        var scan = await queries.ListAsync(source, filter, null, ExecutionBulkActions.MaxPerAction, ExaminePerAction / source.Ranges, ct);
        if (scan.Rows.Count == 0) return Done(back, "nothing");
        if (!confirmed)
        {
            // Executions created after this count are left out when the action runs.
            var asOf = (scan.Rows[0].CreatedAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
            Confirm = new BulkConfirmation(cancel, scan.Rows.Count, scan.Next is not null, scan.StoppedAtBound, scan.Examined, asOf);
            return Page();
        }
        var candidates = await queries.CandidatesAsync(Viewer.Scope, [.. scan.Rows.Select(r => r.Id)], ct);
        var what = new Dictionary<string, object?>(StringComparer.Ordinal) { ["selection"] = false, ["filter"] = Filter.AuditDetails() };
        var result = cancel ? await bulk.CancelAsync(Viewer, candidates, what, ct) : await bulk.RetryAsync(Viewer, candidates, what, ct);
        return Finished(back, cancel, result);
    }

    private SeeOther Finished(string back, bool cancel, BulkResult result)
    {
        var url = back;
        foreach (var (reason, count) in result.Skipped)
            url += (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "skipped=" + reason + ":" + count.ToString(CultureInfo.InvariantCulture);
        return Done(url, cancel ? "cancelled" : "retried", result.Acted);
    }

    /// <summary>A refusal shown on the list page (with the filter form), with nothing changed.</summary>
    private async Task<IActionResult> RefuseAsync(int status, string problem, CancellationToken ct)
    {
        Response.StatusCode = status;
        Problem = problem;
        await LoadTenantsAsync(ct);
        return Page();
    }

    private async Task LoadTenantsAsync(CancellationToken ct)
    {
        if (Viewer.IsAdministrator) Tenants = await activity.TenantsAsync(1000, ct);
    }

    /// <summary>
    /// Where the list reads, in the viewer's scope: its own tenant, the tenant the administrator
    /// chose, or every tenant; narrowed to one job when a job is named. Null, with <see cref="DashboardPage.Problem"/>
    /// set, when there is nothing to read (an unknown job name, too many tenants).
    /// </summary>
    private async Task<ExecutionSource?> SourceAsync(CancellationToken ct)
    {
        IReadOnlyList<Guid> tenantIds;
        if (Viewer.Scope is { } own) tenantIds = [own];
        else if (Filter.TenantId is { } chosen)
        {
            if (await queries.TenantNameAsync(chosen, ct) is null)
            {
                Problem = "There is no tenant with that id.";
                return null;
            }
            tenantIds = [chosen];
        }
        else
        {
            tenantIds = await queries.TenantIdsAsync(MaxTenantsMerged, ct);
            if (tenantIds.Count > MaxTenantsMerged)
            {
                Problem = $"There are more than {MaxTenantsMerged} tenants: choose one to list its executions.";
                return null;
            }
        }
        if (Filter.Job is not { } name) return ExecutionSource.Tenants(tenantIds);
        var jobs = await queries.JobsNamedAsync(tenantIds, name, ct);
        switch (jobs.Count)
        {
            case 0:
                Problem = Viewer.IsAdministrator && Filter.TenantId is null
                    ? $"No tenant has a job named “{name}”."
                    : $"There is no job named “{name}”.";
                return null;
            case 1:
                return ExecutionSource.Job(jobs[0].JobId, jobs[0].TenantId);
            default:
                Problem = $"{jobs.Count} tenants have a job named “{name}”: choose the tenant too.";
                return null;
        }
    }

    private static string? SkipLine(string? value)
    {
        var parts = (value ?? "").Split(':', 2);
        return parts.Length == 2 && SkipTexts.TryGetValue(parts[0], out var text)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? string.Format(CultureInfo.InvariantCulture, text, DashboardHtml.Count(n)) : null;
    }

    /// <summary>A tenant sees a pseudonym of the worker (as in the API), the administrator its id.</summary>
    public string? Worker(ExecutionRow row) =>
        row.WorkerId is null ? null : Viewer.IsAdministrator ? row.WorkerId : pseudonyms.For(row.TenantId, row.WorkerId);

    public string Duration(ExecutionRow row) => row.StartedAt is not { } started ? "—"
        : row.CompletedAt is { } done ? DashboardHtml.Duration(done - started)
        : ExecutionStatus.IsTerminal(row.Status) ? "—"
        : DashboardHtml.Duration(time.GetUtcNow() - started) + " so far";

    public static string Cursor(PagePosition position) => PageCursor.Encode(PageCursor.Lists.Executions, position);

    public static string Micros(long micros) => micros.ToString(CultureInfo.InvariantCulture);
}
