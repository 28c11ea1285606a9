using Jobplane.Api;
using Jobplane.Observability;
using Jobplane.Store.Dashboard;

namespace Jobplane.Controller.Dashboard;

/// <summary>What a bulk action did: how many it was asked to act on, how many it acted on, and why it skipped the others.</summary>
public sealed record BulkResult(int Requested, int Acted, IReadOnlyDictionary<string, int> Skipped);

/// <summary>
/// Cancel and retry on many executions at once, from the executions list (a selection, or all that
/// a filter matches). Each is the API's operation on each execution (see <see cref="ExecutionQueries.CancelAsync"/>
/// and <see cref="ExecutionQueries.RetryAsync"/>), applied in one transaction that also writes one
/// audit record (dashboard.bulk_cancel, dashboard.bulk_retry) with the counts and the filter.
/// Executions an action cannot take are skipped and counted by reason, never an error.
/// </summary>
public sealed class ExecutionBulkActions(ExecutionQueries queries, ControllerOptions options, ControllerMetrics metrics)
{
    /// <summary>The most executions one bulk action takes; a filter matching more is acted on newest first, and repeated for the rest.</summary>
    public const int MaxPerAction = 10_000;

    /// <summary>Why an execution was skipped; the page words each (the codes come back in its URL).</summary>
    public static class Reasons
    {
        public const string Finished = "finished";
        public const string Stopping = "stopping";
        public const string NotFailed = "not_failed";
        public const string AlreadyRetried = "retried";
        public const string ImageNotAllowed = "image";
        public const string TenantSuspended = "suspended";
    }

    /// <param name="what">The audit details: the filter, or that it was a selection.</param>
    public async Task<BulkResult> CancelAsync(Viewer viewer, IReadOnlyList<BulkCandidate> candidates, IReadOnlyDictionary<string, object?> what,
        CancellationToken ct)
    {
        var finished = candidates.Count(c => ExecutionStatus.IsTerminal(c.Status));
        var stopping = candidates.Count(c => c.Status == ExecutionStatus.Running && c.CancelRequested);
        var acted = candidates.Count == 0 ? new BulkActed(0, [])
            : await queries.CancelAsync(viewer.Scope, [.. candidates.Select(c => c.Id)], Audit(viewer, "dashboard.bulk_cancel", candidates, what,
                new Dictionary<string, object?> { [Reasons.Finished] = finished, [Reasons.Stopping] = stopping }), ct);
        // One that finished (or was asked to stop) between the read and the cancel counts as finished.
        var skipped = Skips([(Reasons.Stopping, stopping), (Reasons.Finished, candidates.Count - acted.Acted - stopping)]);
        return new BulkResult(candidates.Count, acted.Acted, skipped);
    }

    public async Task<BulkResult> RetryAsync(Viewer viewer, IReadOnlyList<BulkCandidate> candidates, IReadOnlyDictionary<string, object?> what,
        CancellationToken ct)
    {
        int notFailed = 0, retried = 0, suspended = 0, image = 0;
        var eligible = new List<BulkCandidate>();
        foreach (var c in candidates)
        {
            if (c.Status != ExecutionStatus.Failed) notFailed++;
            else if (!c.Retryable) retried++;
            else if (c.TenantSuspended) suspended++;
            // The check every path that creates executions makes: the job's image must still be from an allowed registry.
            else if (!options.ImageRegistries.AllowsAny && options.ImageRegistries.Refusal(c.Image) is not null) image++;
            else eligible.Add(c);
        }
        var reasons = new Dictionary<string, object?>
        {
            [Reasons.NotFailed] = notFailed,
            [Reasons.AlreadyRetried] = retried,
            [Reasons.TenantSuspended] = suspended,
            [Reasons.ImageNotAllowed] = image,
        };
        var acted = candidates.Count == 0 ? new BulkActed(0, [])
            : await queries.RetryAsync(viewer.Scope, [.. eligible.Select(c => c.Id)], options.ImageRegistries.AllowsAny ? null : [.. eligible.Select(c => c.JobId).Distinct()],
                TraceParent.ForExecutions(System.Diagnostics.Activity.Current), Audit(viewer, "dashboard.bulk_retry", candidates, what, reasons), ct);
        if (acted.Acted > 0) metrics.Submitted(ExecutionStatus.Pending, acted.Acted);
        // One retried by another request between the read and this retry counts as already retried.
        var skipped = Skips([(Reasons.NotFailed, notFailed), (Reasons.AlreadyRetried, retried + eligible.Count - acted.Acted),
            (Reasons.TenantSuspended, suspended), (Reasons.ImageNotAllowed, image)]);
        return new BulkResult(candidates.Count, acted.Acted, skipped);
    }

    private static ExecutionBulkAudit Audit(Viewer viewer, string action, IReadOnlyList<BulkCandidate> candidates, IReadOnlyDictionary<string, object?> what,
        Dictionary<string, object?> reasons)
    {
        var tenants = candidates.Select(c => c.TenantId).Distinct().Take(2).ToList();
        // A tenant's record shows in its own audit log; the administrator's action on several tenants is the platform's.
        var tenant = viewer.Scope ?? (tenants.Count == 1 ? tenants[0] : null);
        var details = new Dictionary<string, object?>(what) { ["skipped_by_reason"] = reasons };
        return new ExecutionBulkAudit(viewer.Actor, action, tenant, null, candidates.Count, details);
    }

    private static Dictionary<string, int> Skips(IEnumerable<(string Reason, int Count)> counts) =>
        counts.Where(c => c.Count > 0).ToDictionary(c => c.Reason, c => c.Count, StringComparer.Ordinal);
}
