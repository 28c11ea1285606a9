using System.Globalization;
using Jobplane.Api;
using Jobplane.Controller.Endpoints;
using Jobplane.Controller.RateLimiting;
using Jobplane.Store;
using Jobplane.Store.Dashboard;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Jobplane.Controller.Dashboard.Pages;

/// <summary>
/// One job: its definition, how its recent runs went, its newest runs, and a form to run it now.
/// The form submits through <see cref="JobSubmission"/>, the same path as POST /jobs/{id}/run (one
/// execution, the session's key checked in the statement) and /runs (several in one commit), after
/// the checks the API makes before it: a suspended tenant is refused, and the tenant's request rate
/// limit is charged as for an API request. Bad values re-render the form with the problem, and
/// nothing is submitted.
/// </summary>
public sealed class JobModel(JobQueries queries, ExecutionStore executions, JobSubmission submission, TenantRateLimiter limiter,
    ControllerMetrics metrics) : DashboardPage
{
    public const int RecentRuns = 50;
    /// <summary>The form's largest count (the API's /runs takes more; a browser form needs no more).</summary>
    public const int MaxCount = 1000;

    private static readonly string[] TimeFormats = ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF"];

    public JobDetail Job { get; private set; } = null!;
    public IReadOnlyList<ExecutionRecord> Runs { get; private set; } = [];
    public bool MoreRuns { get; private set; }
    public bool Missing { get; private set; }

    // The form as shown: the job's defaults, or what was sent when it is shown again with a problem.
    public string PriorityText { get; private set; } = "";
    public string AtText { get; private set; } = "";
    public string CountText { get; private set; } = "1";
    /// <summary>The form field the problem is about (marked aria-invalid).</summary>
    public string? ProblemField { get; private set; }

    /// <summary>Why this viewer is shown no form (null: the form is shown).</summary>
    public string? NoForm => Viewer.IsAdministrator
        ? "The administrator views jobs; running one is its tenant's act: sign in with one of the tenant's API keys to run it."
        : !Viewer.CanAct ? "This API key is read-only: it can view this job, not run it."
        : Job.TenantSuspended || Viewer.TenantSuspended ? SuspendedText
        : null;

    private const string SuspendedText = "This tenant is suspended: nothing new can be submitted or run until an administrator resumes it.";

    public async Task<IActionResult> OnGetAsync(string id, CancellationToken ct)
    {
        if (!await LoadAsync(id, ct)) return NotFoundPage();
        PriorityText = Job.Job.Priority.Value.ToString(CultureInfo.InvariantCulture);
        return Page();
    }

    public async Task<IActionResult> OnPostRunAsync(string id, [FromForm] string? priority, [FromForm] string? at, [FromForm] string? count,
        CancellationToken ct)
    {
        if (!await LoadAsync(id, ct)) return NotFoundPage();
        PriorityText = priority?.Trim() ?? "";
        AtText = at?.Trim() ?? "";
        CountText = count?.Trim() ?? "";
        if (Viewer.IsAdministrator || Job.TenantSuspended || Viewer.TenantSuspended) return Refuse(403, null, NoForm!);

        Priority runPriority = Job.Job.Priority;
        if (PriorityText.Length > 0)
        {
            if (!int.TryParse(PriorityText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) || p is < Priority.Min or > Priority.Max)
                return Refuse(400, "priority", $"Priority must be a whole number from {Priority.Min} to {Priority.Max} (got “{PriorityText}”). Nothing was submitted.");
            runPriority = new Priority(p);
        }
        var runs = 1;
        if (CountText.Length > 0 && (!int.TryParse(CountText, NumberStyles.Integer, CultureInfo.InvariantCulture, out runs) || runs is < 1 or > MaxCount))
            return Refuse(400, "count", $"Count must be a whole number from 1 to {DashboardHtml.Count(MaxCount)} (got “{CountText}”). Nothing was submitted.");
        DateTimeOffset? runAt = null;
        if (AtText.Length > 0)
        {
            if (!DateTime.TryParseExact(AtText, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t))
                return Refuse(400, "at", $"The time must be a UTC date and time such as 2030-01-31T14:30 (got “{AtText}”). Nothing was submitted.");
            runAt = new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc));
        }
        // The API's own checks of the same values (its bounds are wider than the form's).
        if (JobSubmission.RunsProblem(runs, null) is { } problem) return Refuse(400, "count", problem + ". Nothing was submitted.");

        // The tenant's request rate, charged as one API request would be.
        if (Job.RateLimit is { } rate)
        {
            var burst = Job.RateLimitBurst ?? Math.Max(1, (int)Math.Ceiling(rate));
            var decision = await limiter.AcquireAsync(Job.TenantId, rate, burst, ct);
            if (!decision.Allowed)
            {
                metrics.RateLimited(Job.TenantId);
                var seconds = Math.Max(1, (int)Math.Ceiling(decision.RetryAfter.TotalSeconds));
                Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return Refuse(429, null, $"This tenant's request rate limit ({rate.ToString(CultureInfo.InvariantCulture)} per second, bursts of {burst}) is reached; "
                    + $"try again in {seconds} s. Nothing was submitted.");
            }
        }

        var options = new RunOptions(runAt, null, runPriority);
        Submission outcome;
        try
        {
            // One run as POST /run makes it, the session's key checked in the statement; several as /runs.
            outcome = runs == 1
                ? await submission.RunOnceAsync(Job.TenantId, Job.Job.Id, options, null, Viewer.KeyId, ct)
                : await submission.RunManyAsync(Job.TenantId, Job.Job.Id, runs, options, ct);
        }
        catch (StoreConflictException e)
        {
            return Refuse(409, null, e.Message);
        }
        if (outcome.Refused is not null) return Refuse(403, null, (outcome.RefusedMessage ?? "The job's image is not allowed") + ". Nothing was submitted.");
        if (outcome.NotFound)
            return Refuse(404, null, "Nothing was submitted: the job is gone, or this key was revoked or its tenant suspended meanwhile.");
        return Done($"/ui/jobs/{Job.Job.Id}", outcome.Status == ExecutionStatus.Scheduled ? "scheduled" : "submitted", outcome.ExecutionIds.Count);
    }

    private async Task<bool> LoadAsync(string id, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var jobId)) return false;
        var job = await queries.GetAsync(Viewer.Scope, jobId, ct);
        if (job is null) return false;
        Job = job;
        // Served by executions_job_created_idx, scoped by the job's tenant (the viewer's own, for a tenant).
        var page = await executions.ListPageAsync(job.TenantId, null, jobId, new PageRequest(RecentRuns), ct);
        Runs = page.Items;
        MoreRuns = page.More;
        return true;
    }

    private PageResult Refuse(int status, string? field, string problem)
    {
        Response.StatusCode = status;
        Problem = problem;
        ProblemField = field;
        return Page();
    }

    private PageResult NotFoundPage()
    {
        Missing = true;
        Response.StatusCode = 404;
        return Page();
    }

    /// <summary>The executions page filtered to this job (and, for the administrator, its tenant).</summary>
    public string RunsUrl => "/ui/executions?job=" + Uri.EscapeDataString(Job.Job.Name) + (Viewer.IsAdministrator ? "&tenant=" + Job.TenantId : "");
}
